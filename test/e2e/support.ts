// Helpers of the end-to-end tests: the real stack (Temporal dev server, workers as separate
// processes, MinIO) and ways to watch a run.
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Stack } from '../../cli/stack.js';
import { repoRoot } from '../../lib/workdirs.js';
import { statusQuery, type PipelineStatus } from '../../contracts/workflows.js';
import { startMinio, type MinioServer } from '../support/minio.js';
import { freePort } from '../support/ports.js';
export { waitFor } from '../support/waitFor.js';

export interface E2EStack {
  stack: Stack;
  minio: MinioServer;
  client: Client;
  home: string;
  stop(): Promise<void>;
}

export async function startE2EStack(): Promise<E2EStack> {
  const minio = await startMinio({ bucket: 'kiln-e2e' });
  const home = mkdtempSync(join(tmpdir(), 'kiln-e2e-'));
  const stack = new Stack({
    home,
    temporalPort: await freePort(),
    uiPort: await freePort(),
    gpuWorkers: 2,
    // The workers' only way to S3: credentials in their environment, never in payloads.
    env: { ...minio.env, KILN_DATA_CONCURRENCY: '2' },
  });
  await stack.start();
  const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
  return {
    stack,
    minio,
    client,
    home,
    async stop() {
      await client.connection.close().catch(() => undefined);
      await stack.stop();
      await minio.stop();
    },
  };
}

export function tinyConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const config = JSON.parse(readFileSync(join(repoRoot, 'configs/tiny.json'), 'utf8'));
  delete config.$schema;
  config.ingest.source = `file://${join(repoRoot, 'data/tiny-corpus')}`;
  config.eval.problems = `file://${join(repoRoot, 'data/humaneval/HumanEval.jsonl.gz')}`;
  return { ...config, ...overrides };
}

export async function status(handle: WorkflowHandle): Promise<PipelineStatus | undefined> {
  return (await handle.query(statusQuery).catch(() => undefined)) as PipelineStatus | undefined;
}


/** Activity types with a started, not yet finished attempt. */
export async function runningActivities(handle: WorkflowHandle): Promise<string[]> {
  const d = await handle.describe();
  return (d.raw.pendingActivities ?? [])
    .filter((a) => String(a.state) === 'PENDING_ACTIVITY_STATE_STARTED' || a.state === 2)
    .map((a) => a.activityType?.name ?? '');
}
