/**
 * The end of `kiln run`'s summary: the run's deployment routed through the dev stack's gateway
 * (registered if the pipeline has not done it yet), then one streamed completion and one
 * fill-in-the-middle completion through the gateway, as an editor would send them.
 */
import { GATEWAY_USER_HEADER, type GatewayRoute } from '../contracts/gateway.js';
import type { PipelineResult } from '../contracts/pipeline.js';
import { withDeployment } from '../activities/gateway.js';
import { devGatewayAccess, type DevGatewayAccess } from './devGateway.js';

async function admin(g: DevGatewayAccess, method: 'GET' | 'PUT', body?: unknown): Promise<{ routes: GatewayRoute[] }> {
  const res = await fetch(`${g.url}/admin/routes`, {
    method,
    headers: { authorization: `Bearer ${g.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`${method} /admin/routes answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as { routes: GatewayRoute[] };
}

async function complete(g: DevGatewayAccess, body: Record<string, unknown>): Promise<{ text: string; chunks: number; ms: number; firstMs?: number }> {
  const started = performance.now();
  const res = await fetch(`${g.url}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${g.clientKey}`, 'content-type': 'application/json', [GATEWAY_USER_HEADER]: 'kiln-run' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  if (!res.ok) throw new Error(`answered ${res.status}: ${((await res.json().catch(() => ({}))) as { error?: { message?: string } }).error?.message ?? ''}`);
  if (!body.stream) {
    const json = (await res.json()) as { choices: { text: string }[] };
    return { text: json.choices[0]?.text ?? '', chunks: 1, ms: performance.now() - started };
  }
  let text = '';
  let chunks = 0;
  let firstMs: number | undefined;
  let pending = '';
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    pending += Buffer.from(bytes).toString('utf8');
    const events = pending.split('\n\n');
    pending = events.pop()!;
    for (const e of events) {
      const data = e.replace(/^data: /, '');
      if (data === '[DONE]') continue;
      const piece = (JSON.parse(data) as { choices: { text?: string }[] }).choices[0]?.text ?? '';
      if (piece) {
        firstMs ??= performance.now() - started;
        chunks += 1;
        text += piece;
      }
    }
  }
  return { text, chunks, ms: performance.now() - started, firstMs };
}

export async function gatewaySummary(r: PipelineResult, smokePrompt: string, register: boolean): Promise<string[]> {
  const g = devGatewayAccess();
  if (!g) return ['  gateway    none running (`kiln up` starts one beside the workers)'];
  const version = r.deployment.modelVersion;
  const lines: string[] = [];
  try {
    const { routes } = await admin(g, 'GET');
    if (!routes.some((x) => x.version === version && x.url === r.deployment.endpoint)) {
      if (!register) return [`  gateway    ${g.url}: ${version} is not routed (gateway.register is false)`];
      await admin(g, 'PUT', { routes: withDeployment(routes, version, r.deployment.endpoint) });
    }
    const now = (await admin(g, 'GET')).routes;
    lines.push(`  gateway    ${g.url}/v1/completions (version ${version}, ${now.length} route(s); metrics at ${g.url}/metrics)`);
  } catch (err) {
    return [`  gateway    ${g.url}: could not route ${version}: ${(err as Error).message}`];
  }
  const fmt = (x: number) => `${Math.round(x)} ms`;
  try {
    const s = await complete(g, { model: version, prompt: smokePrompt, max_tokens: 24, temperature: 0, stream: true });
    lines.push(`  streamed   ${JSON.stringify(s.text)} (${s.chunks} chunks, first after ${s.firstMs === undefined ? '-' : fmt(s.firstMs)}, all in ${fmt(s.ms)})`);
  } catch (err) {
    lines.push(`  streamed   failed: ${(err as Error).message}`);
  }
  try {
    const f = await complete(g, { model: version, segments: { prefix: 'def add(a, b):\n    ', suffix: '\n    return result\n' }, max_tokens: 16, temperature: 0, filename: 'add.py' });
    lines.push(`  FIM        ${JSON.stringify(f.text)} between "def add(a, b):" and "return result" (${fmt(f.ms)})`);
  } catch (err) {
    lines.push(`  FIM        failed: ${(err as Error).message}`);
  }
  return lines;
}
