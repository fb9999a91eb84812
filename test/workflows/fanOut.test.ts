// The one fan-out shape (plan -> part(i) -> commit) on real activities and a real Temporal server:
// the data stages give the same bytes with 1 and with 4 data workers, and ingest of a many-file
// dataset runs its parts on all 4 workers at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createDataActivities } from '../../activities/data.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import { validateConfig } from '../../lib/config/validate.js';
import { readManifest, type StageResult } from '../../lib/manifest.js';
import { fileUri, store } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { tmpDir } from '../data/fixtures.js';
import { dataStagesBundle, startTestServer } from '../support/temporal.js';

const SAMPLE = `${repoRoot}/../shared/data/stack-sample/data`;
// Eight small languages, one file each: with bytesPerPart 1, eight ingest parts.
const SOURCE = `file://${SAMPLE}/{c++,cmake,php,sql,shell,toml,css,scss}/*.parquet`;

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
before(async () => {
  env = await startTestServer();
  bundle = await dataStagesBundle();
});
after(async () => {
  await env?.teardown();
});

interface Seen {
  /** Worker identity -> ingest parts it ran. */
  ingestParts: Map<string, number[]>;
  /** Ingest parts running now, over all workers, and the most at one moment. */
  inFlight: number;
  maxInFlight: number;
}

/** The data activities, with ingestPart wrapped to record where it ran and how many ran together. */
function activitiesFor(seen: Seen, barrier: number) {
  const acts = createDataActivities();
  return {
    ...acts,
    async ingestPart(...args: Parameters<typeof acts.ingestPart>) {
      seen.inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
      // Hold each part until `barrier` parts run at once (or 20 s): proves the parts spread.
      const deadline = Date.now() + 20_000;
      while (seen.inFlight < barrier && seen.maxInFlight < barrier && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      try {
        return await acts.ingestPart(...args);
      } finally {
        seen.inFlight--;
      }
    },
  };
}

async function runWith(workers: number, root: string): Promise<{ results: Record<string, StageResult>; seen: Seen }> {
  const seen: Seen = { ingestParts: new Map(), inFlight: 0, maxInFlight: 0 };
  const config = validateConfig({ name: 'fanout', artifacts: root, ingest: { source: SOURCE, bytesPerPart: 1 }, tokenizer: { vocabSize: 400, sampleDocs: 400 }, shard: { seqLen: 64 } });
  const data = await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const acts = activitiesFor(seen, workers);
      const identity = `data-${w}`;
      const ingestPart = acts.ingestPart;
      acts.ingestPart = async (...args: Parameters<typeof ingestPart>) => {
        const parts = seen.ingestParts.get(identity) ?? [];
        parts.push(args[1]);
        seen.ingestParts.set(identity, parts);
        return ingestPart(...args);
      };
      // One activity at a time per worker, as one data worker process per core would; a
      // connection of its own, as a separate process would have.
      const connection = await NativeConnection.connect({ address: env.address });
      return Worker.create({ connection, taskQueue: TASK_QUEUES.data, activities: acts, identity, maxConcurrentActivityTaskExecutions: 1 });
    }),
  );
  const wf = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.workflows, workflowBundle: bundle });
  const run = () => env.client.workflow.execute('dataStagesOnly', { taskQueue: TASK_QUEUES.workflows, workflowId: `fanout-${workers}-${Date.now()}`, args: [config] });
  const all = [wf, ...data];
  const running = all.map((w) => w.run());
  try {
    return { results: (await run()) as Record<string, StageResult>, seen };
  } finally {
    for (const w of all) w.shutdown();
    await Promise.all(running);
  }
}

/** Every committed file of a stage, root-relative, with its SHA-256 (the manifest's record of it). */
async function stageBytes(r: StageResult, root: string): Promise<string[]> {
  const m = await readManifest(store, r.dir);
  assert.ok(m, `a manifest in ${r.dir}`);
  return m.outputs.map((o) => `${o.uri.slice(root.length)} ${o.sha256} ${o.bytes}`);
}

describe('fan-out stages on 1 and 4 data workers', () => {
  it('give the same bytes, and ingest runs its parts on all 4 workers at once', { timeout: 600_000 }, async () => {
    const rootOne = fileUri(tmpDir('kiln-fanout-1-'));
    const rootFour = fileUri(tmpDir('kiln-fanout-4-'));
    const one = await runWith(1, rootOne);
    const four = await runWith(4, rootFour);
    assert.equal(one.seen.maxInFlight, 1);
    assert.equal(four.seen.maxInFlight, 4, `parts in flight at once: ${four.seen.maxInFlight}`);
    assert.equal(four.seen.ingestParts.size, 4, `workers that ran ingest parts: ${[...four.seen.ingestParts.keys()].join(', ')}`);
    assert.deepEqual([...four.seen.ingestParts.values()].flat().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
    for (const stage of ['ingest', 'clean', 'dedup', 'tokenizer', 'shard']) {
      const a = one.results[stage]!;
      const b = four.results[stage]!;
      assert.equal(a.fingerprint, b.fingerprint, `${stage}: same fingerprint`);
      const bytesA = await stageBytes(a, rootOne);
      assert.ok(bytesA.length > 0, `${stage} wrote files`);
      assert.deepEqual(await stageBytes(b, rootFour), bytesA, `${stage}: same files and bytes`);
    }
    assert.equal(Object.keys(one.results.ingest!.stats.per_language as object).length, 8);
  });
});
