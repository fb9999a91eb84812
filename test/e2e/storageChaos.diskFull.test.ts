// Chaos: the artifact disk fills up during a stage. The artifact root (file://) lies on a small
// tmpfs of its own; once ingest has committed, a ballast fills it, so clean's writes fail with
// ENOSPC. That must be a retryable KilnStoreFull failure whose message tells the operator to free
// space, with no partial file left behind (writes are temp + rename); after the ballast is removed
// the stage goes on and every stage's output equals an undisturbed run's. On the PostgreSQL-backed
// Temporal server (test/support/postgresTemporal.ts), as the other chaos suites, with an in-process
// data worker. Prints the time to recover and the rows redone.
//
// KILN_CHAOS_DISK_FULL_S: how long the disk stays full (default 10 s).
// KILN_CHAOS_DEV_SERVER=1: the Temporal dev server instead (no PostgreSQL needed; a quicker check).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createDataActivities } from '../../activities/data.js';
import { ErrorType } from '../../contracts/errors.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import { validateConfig } from '../../lib/config/validate.js';
import { readManifest, type StageResult } from '../../lib/manifest.js';
import { fileUri, store } from '../../lib/storage/index.js';
import { tmpDir } from '../data/fixtures.js';
import { ensureSearchAttributes } from '../../workers/searchAttributes.js';
import { startPostgresTemporal } from '../support/postgresTemporal.js';
import { redoneActivities, describeRedone } from '../support/redoneWork.js';
import { mountSmallDisk, type SmallDisk } from '../support/smallDisk.js';
import { dataStagesBundle, startTestServer } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';
import { tinyConfig } from './support.js';

const STAGES = ['ingest', 'clean', 'dedup', 'tokenizer', 'shard'] as const;
const FULL_MS = Number(process.env.KILN_CHAOS_DISK_FULL_S ?? 10) * 1000;

/** The Temporal server the suite runs on, whichever kind. */
interface Server {
  address: string;
  client: Client;
  stop(): Promise<void>;
}

async function startServer(): Promise<Server> {
  if (process.env.KILN_CHAOS_DEV_SERVER === '1') {
    const dev = await startTestServer();
    return { address: dev.address, client: dev.client, stop: () => dev.teardown() };
  }
  const pg = await startPostgresTemporal();
  const client = new Client({ connection: await Connection.connect({ address: pg.address }), namespace: pg.namespace });
  await ensureSearchAttributes(client, pg.namespace);
  return {
    address: pg.address,
    client,
    async stop() {
      await client.connection.close();
      await pg.stop();
    },
  };
}

let env: Server;
let bundle: WorkflowBundleWithSourceMap;
let disk: SmallDisk;

before(async () => {
  disk = mountSmallDisk(64);
  env = await startServer();
  bundle = await dataStagesBundle();
});
after(async () => {
  await env?.stop();
  disk?.unmount();
});

function configAt(root: string) {
  const tiny = tinyConfig();
  return validateConfig({ ...tiny, name: 'disk-full', artifacts: root });
}

/** Runs the data stages with one data worker (two activities at a time, as `kiln up`'s). */
async function withWorkers<T>(work: () => Promise<T>): Promise<T> {
  const connection = await NativeConnection.connect({ address: env.address });
  const data = await Worker.create({ connection, taskQueue: TASK_QUEUES.data, activities: createDataActivities(), maxConcurrentActivityTaskExecutions: 2 });
  const wf = await Worker.create({ connection, taskQueue: TASK_QUEUES.workflows, workflowBundle: bundle });
  const running = [data.run(), wf.run()];
  try {
    return await work();
  } finally {
    data.shutdown();
    wf.shutdown();
    await Promise.all(running);
    await connection.close();
  }
}

/** A stage's committed files, root-relative, with the SHA-256 and size its manifest records. */
async function stageBytes(r: StageResult, root: string): Promise<string[]> {
  const m = await readManifest(store, r.dir);
  assert.ok(m, `a manifest in ${r.dir}`);
  return m.outputs.map((o) => `${o.uri.slice(root.length)} ${o.sha256} ${o.bytes}`);
}

/** Every file under `dir`, relative. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p).map((f) => join(name, f)) : [name];
  });
}

interface Pending {
  type: string;
  attempt: number;
  failureType?: string;
  message?: string;
}

async function pendingActivities(workflowId: string): Promise<Pending[]> {
  const d = await env.client.workflow.getHandle(workflowId).describe();
  return (d.raw.pendingActivities ?? []).map((a) => ({
    type: a.activityType?.name ?? '?',
    attempt: a.attempt ?? 1,
    failureType: a.lastFailure?.applicationFailureInfo?.type ?? undefined,
    message: a.lastFailure?.message ?? undefined,
  }));
}

describe('chaos: the artifact disk full during a stage', () => {
  it('fails the writes retryably with a clear message, keeps nothing partial, and finishes with the undisturbed output once space is freed', { timeout: 900_000 }, async () => {
    const cleanRoot = fileUri(tmpDir('kiln-disk-undisturbed-'));
    const fullRoot = fileUri(join(disk.dir, 'run'));
    const undisturbed = await withWorkers(() =>
      env.client.workflow.execute('dataStagesOnly', { taskQueue: TASK_QUEUES.workflows, workflowId: `disk-undisturbed-${Date.now()}`, args: [configAt(cleanRoot)] }),
    ) as Record<string, StageResult>;

    const id = `disk-full-${Date.now()}`;
    const report = await withWorkers(async () => {
      const handle = await env.client.workflow.start('dataStagesOnly', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [configAt(fullRoot)] });
      // Fill the disk as soon as ingest has committed: the next stage (clean) finds it full.
      await waitFor('ingest committed', async () => filesUnder(disk.dir).some((f) => f.startsWith('run/stages/ingest/') && f.endsWith('_MANIFEST.json')), 300_000, 20);
      const ballast = disk.fill();
      const filledAt = Date.now();
      const full = await waitFor('a write failing for want of space', async () => (await pendingActivities(id)).find((a) => a.failureType === ErrorType.StoreFull), 120_000, 100);
      assert.match(full.message!, /^No space left on the device \(or quota\) holding file:\/\/.*: free space there; the write is retried/);
      // Hold the disk full a while (the retries back off), then free it as an operator would.
      await new Promise((r) => setTimeout(r, Math.max(0, FULL_MS - (Date.now() - filledAt))));
      const worst = Math.max(...(await pendingActivities(id)).filter((a) => a.failureType === ErrorType.StoreFull).map((a) => a.attempt), full.attempt);
      disk.free();
      const freedAt = Date.now();
      await waitFor('the stage going on after space was freed', async () => !(await pendingActivities(id)).some((a) => a.failureType === ErrorType.StoreFull), 300_000, 100);
      const recoveredMs = Date.now() - freedAt;
      const results = (await handle.result()) as Record<string, StageResult>;
      const redone = await redoneActivities(await handle.fetchHistory());
      return { results, ballast, full, worst, recoveredMs, redone };
    });

    const { results, redone } = report;
    console.log(
      `[disk full] ${report.full.type} failed (${report.full.failureType}) with ${(report.ballast / 2 ** 20).toFixed(1)} MiB of ballast; ` +
        `disk full ${(FULL_MS / 1000).toFixed(0)} s (attempts up to ${report.worst}); stage going on ${(report.recoveredMs / 1000).toFixed(1)} s after space was freed; ${describeRedone(redone)}`,
    );
    assert.ok(redone.length >= 1, 'an activity completed on a later attempt');

    // Nothing partial: no temporaries anywhere on the disk, and every committed file has the bytes its manifest records.
    assert.deepEqual(filesUnder(disk.dir).filter((f) => f.includes('.kiln-tmp-')), [], 'temporaries left on the full disk');
    for (const stage of STAGES) {
      const m = (await readManifest(store, results[stage]!.dir))!;
      for (const o of m.outputs) {
        const bytes = readFileSync(fileURLToPath(o.uri));
        assert.equal(createHash('sha256').update(bytes).digest('hex'), o.sha256, `${o.uri} intact`);
      }
    }
    // The same output as the undisturbed run, stage by stage.
    for (const stage of STAGES) {
      assert.equal(results[stage]!.fingerprint, undisturbed[stage]!.fingerprint, `${stage}: same fingerprint`);
      assert.deepEqual(await stageBytes(results[stage]!, fullRoot), await stageBytes(undisturbed[stage]!, cleanRoot), `${stage}: same files and bytes`);
    }
  });
});
