/** kiln run <config> [--up] [--id <workflow id>]: start llmPipeline, follow it, print the summary. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { resolveConfigUris } from '../../activities/prepareRun.js';
import { ConfigError, validateConfig } from '../../lib/config/validate.js';
import { describeFailure } from '../../contracts/failures.js';
import { statusQuery, TASK_QUEUES, type PipelineStatus, type TrainingStatus } from '../../contracts/workflows.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
import { connectClient } from '../../workers/connection.js';
import { gatewaySummary } from '../gatewaySummary.js';
import { ProgressView } from '../progress.js';
import { isPortOpen, Stack } from '../stack.js';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      up: { type: 'boolean', default: false },
      id: { type: 'string' },
      address: { type: 'string', default: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' },
      'ui-url': { type: 'string', default: process.env.KILN_UI_URL ?? 'http://localhost:8233' },
    },
  });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('Usage: kiln run <config.json> [--up] [--id <workflow id>]\n');
    return 2;
  }
  let config;
  try {
    config = resolveConfigUris(validateConfig(JSON.parse(readFileSync(file, 'utf8'))));
  } catch (err) {
    process.stderr.write(`kiln run: ${file}: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    return 1;
  }

  const [host, port] = values.address!.split(':');
  if (!(await isPortOpen(Number(port), host))) {
    if (!values.up) {
      process.stderr.write(`kiln run: no Temporal server at ${values.address}. Start one with \`kiln up\`, or pass --up.\n`);
      return 1;
    }
    process.stdout.write('Starting the dev stack in the background (`kiln down` stops it)...\n');
    const info = await new Stack({ detached: true }).start();
    for (const p of info.processes) process.stdout.write(`  ${p.name.padEnd(14)} pid ${p.pid}  log ${p.log}\n`);
  }

  // TLS and payload encryption as the workers have them (KILN_TLS_*, KILN_CODEC_KEYS).
  const client = await connectClient(values.address);
  const workflowId = values.id ?? `${config.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const handle = await client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId, args: [config] });
  const uiLink = `${values['ui-url']}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
  process.stdout.write(`Started llmPipeline ${workflowId}\n  ${uiLink}\n`);

  const view = new ProgressView();
  const poll = setInterval(() => {
    liveStatus(client, handle.workflowId)
      .then((s) => s && view.update(s))
      .catch(() => undefined);
  }, 1000);
  try {
    const result = (await handle.result()) as PipelineResult;
    clearInterval(poll);
    const last = await liveStatus(client, handle.workflowId).catch(() => undefined);
    if (last) view.update(last);
    view.close();
    printSummary(result, uiLink, await gatewaySummary(result, config.deploy.smokePrompt, config.gateway.register));
    return 0;
  } catch (err) {
    clearInterval(poll);
    view.close();
    const detail = err instanceof WorkflowFailedError ? describeFailure(err.cause) : describeFailure(err);
    process.stderr.write(`\nllmPipeline ${workflowId} failed: ${detail}\n  ${uiLink}\n`);
    return 1;
  } finally {
    await client.connection.close();
  }
}

function printSummary(r: PipelineResult, uiLink: string, gatewayLines: string[]): void {
  const fmt = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(4));
  const out = [
    '',
    `Summary of ${r.name}`,
    '  artifacts',
    ...Object.entries(r.artifacts).map(([k, v]) => `    ${k.padEnd(11)} ${v}`),
    `  training   ${r.train.steps} steps, loss ${fmt(r.train.firstLoss)} (first) -> ${fmt(r.train.finalLoss)} (last), ${r.train.gangRestarts} gang restart(s)`,
    ...evalLines(r.eval),
    `  endpoint   ${r.deployment.endpoint}/v1/completions (model ${r.deployment.model}, version ${r.deployment.modelVersion}, ${r.deployment.latencyMs} ms)`,
    `  sample     ${JSON.stringify(r.deployment.sampleCompletion)}`,
    ...gatewayLines,
    `  Temporal   ${uiLink}`,
    '',
  ];
  process.stdout.write(out.join('\n'));
}

/** One eval line per language (pass@k with its 95% interval), or the single line of a Python-only eval. */
function evalLines(e: PipelineResult['eval']): string[] {
  const pct = (x: number) => (x * 100).toFixed(1);
  if (!e.languages) return [`  eval       ${Object.entries(e.passAtK).map(([k, v]) => `${k} = ${v.toFixed(3)}`).join(', ')} on ${e.problems} problems`];
  const lines = Object.entries(e.languages).map(([lang, m], i) => {
    const scores = Object.entries(m.passAtK).map(([k, v]) => `${k} = ${pct(v)}% [${pct(m.intervals[k]?.low ?? v)}, ${pct(m.intervals[k]?.high ?? v)}]`);
    return `  ${(i === 0 ? 'eval' : '').padEnd(10)} ${lang.padEnd(11)} ${scores.join(', ')} on ${m.problems} problems`;
  });
  if (e.infilling) lines.push(`  ${''.padEnd(10)} ${'infilling'.padEnd(11)} exact match ${pct(e.infilling.exactMatch)}% [${pct(e.infilling.interval.low)}, ${pct(e.infilling.interval.high)}] on ${e.infilling.examples} lines`);
  return lines;
}

/**
 * The pipeline's status, with live step and loss from its training run while it trains (the
 * pipeline itself hears only the gang's state changes, so that its history stays bounded).
 */
async function liveStatus(client: Client, workflowId: string): Promise<PipelineStatus | undefined> {
  const s = (await client.workflow.getHandle(workflowId).query(statusQuery)) as PipelineStatus;
  if (s.stages.train !== 'running' || !s.train.workflowId) return s;
  const train = (await client.workflow.getHandle(s.train.workflowId).query(statusQuery).catch(() => undefined)) as TrainingStatus | undefined;
  return train ? { ...s, train: { ...train, workflowId: s.train.workflowId } } : s;
}
