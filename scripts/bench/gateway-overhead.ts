/**
 * What the gateway adds to a completion: a loopback engine that answers at once (so only the
 * hop is measured), hit directly and through `kiln gateway` (its own process, as deployed), at
 * concurrency 1, 4 and 16 with a fixed request count; whole and streamed answers. Prints
 * p50/p95/p99 latency, time to first chunk, requests/s and the gateway process's CPU time per
 * request (the figure that holds when other work shares the cores). A benchmark, not a test.
 *   npx tsx scripts/bench/gateway-overhead.ts [--requests 2000]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readProcessStats } from '../../gateway/hostStats.js';
import { repoRoot } from '../../lib/workdirs.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const REQUESTS = Number(values.requests);
const KEY = 'bench-key-0123456789';
const CHUNKS = 16;

const engine = createServer((req, res) => {
  if (req.url === '/health') return res.end('{"status":"ok"}');
  if (req.url === '/v1/models') return res.end('{"data":[{"id":"bench"}]}');
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    const base = { id: 'x', object: 'text_completion', created: 1, model: 'bench' };
    if (!(JSON.parse(raw) as { stream?: boolean }).stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ...base, choices: [{ index: 0, text: 'tok'.repeat(CHUNKS), finish_reason: 'length' }], usage: { completion_tokens: CHUNKS } }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < CHUNKS; i++) res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, text: 'tok', finish_reason: null }] })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
});
await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
const engineUrl = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;

const gw = spawn(process.execPath, [join(repoRoot, 'bin/kiln.js'), 'gateway', '--port', '0'], {
  env: { ...process.env, KILN_GATEWAY_KEYS: `bench:${KEY}`, KILN_GATEWAY_ADMIN_KEY: `${KEY}-admin` },
  stdio: ['ignore', 'pipe', 'ignore'],
});
const gatewayUrl = await new Promise<string>((resolve) => {
  let out = '';
  gw.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    const m = /"url":"([^"]+)"/.exec(out);
    if (m) resolve(m[1]!);
  });
});
await fetch(`${gatewayUrl}/admin/routes`, { method: 'PUT', headers: { authorization: `Bearer ${KEY}-admin` }, body: JSON.stringify({ routes: [{ version: 'v1', url: engineUrl, weight: 1 }] }) });

async function one(base: string, stream: boolean, user: number): Promise<[number, number]> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'x-kiln-user': `u${user}` },
    body: JSON.stringify({ prompt: 'def f(', max_tokens: CHUNKS, stream }),
  });
  let first = 0;
  for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>) first ||= performance.now() - t0;
  return [performance.now() - t0, first];
}

const pct = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(2);
console.log(`${REQUESTS} requests per row, engine answers at once (${CHUNKS} chunks when streamed); ms`);
console.log('path      stream  conc    p50    p95    p99  first-p50   req/s  gw-cpu-ms/req');
for (const stream of [false, true]) {
  for (const conc of [1, 4, 16]) {
    for (const [name, base] of [['direct', engineUrl], ['gateway', gatewayUrl]] as const) {
      const lat: number[] = [];
      const first: number[] = [];
      let next = 0;
      const cpu0 = (await readProcessStats(gw.pid!))?.cpuSeconds ?? NaN;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: conc }, async () => {
          while (next < REQUESTS) {
            const [ms, f] = await one(base, stream, next++);
            lat.push(ms);
            first.push(f);
          }
        }),
      );
      const rps = REQUESTS / ((performance.now() - t0) / 1000);
      const cpuMs = name === 'gateway' ? ((((await readProcessStats(gw.pid!))?.cpuSeconds ?? NaN) - cpu0) * 1000) / REQUESTS : NaN;
      lat.sort((a, b) => a - b);
      first.sort((a, b) => a - b);
      console.log(`${name.padEnd(9)} ${String(stream).padEnd(6)} ${String(conc).padStart(5)} ${pct(lat, 0.5).padStart(6)} ${pct(lat, 0.95).padStart(6)} ${pct(lat, 0.99).padStart(6)} ${pct(first, 0.5).padStart(10)} ${rps.toFixed(0).padStart(7)} ${(Number.isNaN(cpuMs) ? '-' : cpuMs.toFixed(3)).padStart(14)}`);
    }
  }
}
gw.kill('SIGTERM');
engine.close();
