// A real run with the payload codec on leaves no plaintext config, tenant path or planted secret in
// any history; the same run without the codec shows all three (so the scan can fail). The run:
// llmPipeline on a real server with the real prepareRun, ingest and clean on a tiny corpus and
// the dedup child workflow, whose plan step fails quoting its input folder (as a stage's error
// would): workflow and child inputs, activity arguments and results, and failures are all covered.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, WorkflowFailedError } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createDataActivities } from '../../activities/data.js';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import type { StageResult } from '../../lib/manifest.js';
import { temporalBinary } from '../../cli/stack.js';
import { createCodecServer } from '../../lib/security/codecServer.js';
import { codecFromEnv, kilnDataConverter } from '../../lib/security/dataConverter.js';
import { fileUri } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { workflowsPath } from '../../workers/workflowBundle.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';
import { allHistories, findInHistories } from './historyScan.js';

const hex = randomBytes(6).toString('hex');
const secret = `sk_live_${randomBytes(12).toString('hex')}`;
const name = `acme-${hex}`;
let env: TestWorkflowEnvironment;
let tenantRoot: string;
let config: Record<string, unknown>;
let tmp: string;

before(async () => {
  env = await startTestServer();
  tmp = mkdtempSync(join(tmpdir(), 'kiln-sec-'));
  tenantRoot = join(tmp, `tenant-${hex}`);
  // The planted secret sits in the source path: it reaches the config and every ingest payload.
  const source = join(tmp, secret, 'python');
  mkdirSync(source, { recursive: true });
  copyFileSync(join(repoRoot, 'data/tiny-corpus/python/train-00000-of-00001.parquet'), join(source, 'train.parquet'));
  process.env.KILN_ALLOWED_ROOTS = fileUri(tmp);
  config = { name, artifacts: fileUri(join(tenantRoot, 'artifacts')), ingest: { source: fileUri(join(tmp, secret)), languages: ['Python'] } };
});
after(async () => {
  await env?.teardown();
  rmSync(tmp, { recursive: true, force: true });
});

/** The pipeline up to dedup, whose plan fails naming its input: ends in seconds. */
async function runPipeline(workflowId: string, dataConverter: DataConverter): Promise<WorkflowFailedError> {
  const activities = {
    ...createDataActivities(),
    async dedupPlan(input: { input: StageResult }) {
      throw fatal(ErrorType.InvalidInput, `stand-in: refusing ${input.input.dir}`);
    },
  };
  const codecOn = Boolean(dataConverter.payloadCodecs?.length);
  // With the codec, the workflow worker bundles its workflows as the real data worker does
  // (workflowsPath + the data converter's failure converter); without it the tests' shared bundle.
  const wf = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.workflows,
    dataConverter,
    ...(codecOn ? { workflowsPath } : { workflowBundle: await workflowBundle() }),
  });
  const data = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.data, activities, dataConverter });
  const client = new Client({ connection: env.connection, dataConverter });
  return wf.runUntil(
    data.runUntil(async () => {
      const handle = await client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId, args: [config] });
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError, `the run fails at dedup, got ${String(err)}`);
      return err;
    }),
  );
}

/** The whole failure chain's messages, as a client with this data converter reads them. */
function messages(err: Error | undefined): string {
  const out: string[] = [];
  for (let e: (Error & { cause?: unknown }) | undefined = err; e; e = e.cause as Error | undefined) out.push(e.message);
  return out.join(' <- ');
}

describe('payload encryption of histories', () => {
  it('leaves no config, tenant path or secret in plaintext with the codec, and shows them without', { timeout: 300_000 }, async () => {
    const plainErr = await runPipeline('sec-plain', {});
    const keys = `k1:${randomBytes(32).toString('base64')}`;
    const codecErr = await runPipeline('sec-codec', kilnDataConverter({ KILN_CODEC_KEYS: keys }));
    // A client with the keys reads the encrypted failure as the plain one reads its own.
    assert.match(messages(codecErr), /stand-in: refusing file:\/\/.*\/stages\/clean\//);
    assert.match(messages(plainErr), /stand-in: refusing file:\/\/.*\/stages\/clean\//);

    const histories = await waitFor('both runs and their dedup children listed', async () => {
      const h = new Map([...(await allHistories(env.client))].filter(([id]) => id.startsWith('sec-plain') || id.startsWith('sec-codec')));
      return h.size >= 4 ? h : undefined;
    }, 30_000);
    const pick = (prefix: string) => new Map([...histories].filter(([id]) => id.startsWith(prefix)));
    const plain = pick('sec-plain');
    const encrypted = pick('sec-codec');
    assert.equal(plain.size, 2, [...plain.keys()].join(', '));
    assert.equal(encrypted.size, 2, [...encrypted.keys()].join(', '));
    const needles = { 'artifacts root': tenantRoot, 'config name': name, 'planted secret': secret };

    const shown = findInHistories(plain, needles);
    for (const label of Object.keys(needles)) assert.ok(shown.some((f) => f.endsWith(label)), `without the codec the scan finds the ${label} (found: ${shown.join('; ')})`);
    assert.ok(shown.some((f) => f.startsWith('sec-plain/dedup')), 'the child workflow\'s history is scanned too');

    assert.deepEqual(findInHistories(encrypted, needles), [], 'with the codec no history holds them');

    // The Temporal CLI reads the encrypted history through `kiln`'s codec server (the UI's protocol).
    const server = createCodecServer({ codec: codecFromEnv({ KILN_CODEC_KEYS: keys })!, origins: [] });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // The workflow's input as the CLI prints it: its encoding and its data, both base64 in the JSON output.
      const input = async (...extra: string[]) => {
        const { stdout } = await promisify(execFile)(temporalBinary(), ['workflow', 'show', '--address', env.address, '--workflow-id', 'sec-codec', '--output', 'json', ...extra], { maxBuffer: 64 << 20 });
        const p = (JSON.parse(stdout) as { events: { workflowExecutionStartedEventAttributes?: { input: { payloads: { metadata: { encoding: string }; data: string }[] } } }[] }).events[0]!
          .workflowExecutionStartedEventAttributes!.input.payloads[0]!;
        return { encoding: Buffer.from(p.metadata.encoding, 'base64').toString(), data: Buffer.from(p.data, 'base64').toString() };
      };
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const decoded = await input('--codec-endpoint', endpoint);
      assert.equal(decoded.encoding, 'json/plain');
      assert.deepEqual(JSON.parse(decoded.data), config, 'through the codec server the CLI shows the config');
      const raw = await input();
      assert.equal(raw.encoding, 'binary/encrypted');
      assert.ok(!raw.data.includes(name), 'without it, the CLI sees ciphertext');
    } finally {
      server.close();
    }
  });

  it('fails an activity whose worker lacks the key non-retryably, naming the key id (no retry loop)', { timeout: 120_000 }, async () => {
    const a = `a1:${randomBytes(32).toString('base64')}`;
    const b = `b1:${randomBytes(32).toString('base64')}`;
    // The client and the workflow worker encrypt with a1; the data worker holds only b1 (a rotation
    // gone wrong). The workflow worker also holds b1, so it can read the data worker's failure.
    const client = new Client({ connection: env.connection, dataConverter: kilnDataConverter({ KILN_CODEC_KEYS: a }) });
    const wf = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle(), dataConverter: kilnDataConverter({ KILN_CODEC_KEYS: `${a},${b}` }) });
    const data = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.data, activities: createDataActivities(), dataConverter: kilnDataConverter({ KILN_CODEC_KEYS: b }) });
    const err = await wf.runUntil(
      data.runUntil(async () => {
        const handle = await client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: 'sec-missing-key', args: [config] });
        return handle.result().then(() => undefined, (e: unknown) => e);
      }),
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const cause = (err.cause as Error & { cause?: Error }).cause as Error & { type?: string };
    assert.equal(cause.type, ErrorType.PayloadUndecryptable);
    assert.match(cause.message, /key id `a1`, which is not among this process's KILN_CODEC_KEYS \(b1\)/);
    const history = await client.workflow.getHandle('sec-missing-key').fetchHistory();
    const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    assert.deepEqual(attempts, [1], 'one attempt: the failure is not retried');
  });
});
