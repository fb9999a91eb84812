/** kiln run <config> [--up] [--id <workflow id>]: start llmPipeline, follow it, print the summary. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { resolveConfigUris } from '../../activities/prepareRun.js';
import { ConfigError, validateConfig } from '../../lib/config/validate.js';
import { describeFailure } from '../../contracts/failures.js';
import { statusQuery, TASK_QUEUES, type PipelineStatus, type TrainingStatus } from '../../contracts/workflows.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
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

  const client = new Client({ connection: await Connection.connect({ address: values.address }) });
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
    printSummary(result, uiLink);
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

function printSummary(r: PipelineResult, uiLink: string): void {
  const fmt = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(4));
  const out = [
    '',
    `Summary of ${r.name}`,
    '  artifacts',
    ...Object.entries(r.artifacts).map(([k, v]) => `    ${k.padEnd(11)} ${v}`),
    `  training   ${r.train.steps} steps, loss ${fmt(r.train.firstLoss)} (first) -> ${fmt(r.train.finalLoss)} (last), ${r.train.gangRestarts} gang restart(s)`,
    `  eval       ${Object.entries(r.eval.passAtK).map(([k, v]) => `${k} = ${v.toFixed(3)}`).join(', ')} on ${r.eval.problems} problems`,
    `  endpoint   ${r.deployment.endpoint}/v1/completions (model ${r.deployment.model}, version ${r.deployment.modelVersion}, ${r.deployment.latencyMs} ms)`,
    `  sample     ${JSON.stringify(r.deployment.sampleCompletion)}`,
    `  Temporal   ${uiLink}`,
    '',
  ];
  process.stdout.write(out.join('\n'));
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
