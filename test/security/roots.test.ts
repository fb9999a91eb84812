// Workers use only the artifact roots they are configured for (KILN_ALLOWED_ROOTS): the rule
// alone, then llmPipeline on a real server started by the SDK client and by the `temporal` CLI
// with artifacts at file:///etc (refused by the worker's first activity) and at s3:///path (no
// bucket: refused by the workflow's validation), both non-retryable and naming `artifacts`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { prepareRun } from '../../activities/prepareRun.js';
import { temporalBinary } from '../../cli/stack.js';
import { ErrorType } from '../../contracts/errors.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import { ConfigError, validateConfig } from '../../lib/config/validate.js';
import { allowedRoots, checkAllowedRoot } from '../../lib/security/roots.js';
import { fileUri } from '../../lib/storage/index.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';

const refused = (field: string, rule: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.field, field);
  assert.match(err.message, rule);
  return true;
};

describe('allowed roots (the rule)', () => {
  const env = { KILN_ALLOWED_ROOTS: 'file:///srv/kiln/tenant-a, s3://kiln-artifacts, s3://shared/team-b' };

  it('defaults to the dev artifacts folder and the buckets of the shipped configs', () => {
    const roots = allowedRoots({}, '/repo');
    assert.ok(roots.includes('file:///repo/.kiln/artifacts'), roots.join(', '));
    assert.ok(roots.includes('s3://kiln-artifacts'), 'configs/replit-3b.json names s3://kiln-artifacts');
    assert.throws(() => checkAllowedRoot('file:///etc', 'artifacts', {}, '/repo'), refused('artifacts', /must lie under a root the workers are allowed to use .*got "file:\/\/\/etc"/));
    checkAllowedRoot('file://./.kiln/artifacts', 'artifacts', {}, '/repo');
  });

  it('accepts what lies under a root and refuses the rest, after resolving ..', () => {
    for (const ok of ['file:///srv/kiln/tenant-a', 'file:///srv/kiln/tenant-a/runs/x', 's3://kiln-artifacts/any/prefix', 's3://shared/team-b/run']) {
      checkAllowedRoot(ok, 'artifacts', env);
    }
    for (const bad of ['file:///etc', 'file:///srv/kiln/tenant-a/../tenant-b', 'file:///srv/kiln/tenant-ab', 's3://other-bucket/x', 's3://shared/team-bx', 's3://shared']) {
      assert.throws(() => checkAllowedRoot(bad, 'artifacts', env), refused('artifacts', /must lie under a root/), bad);
    }
    // The message never lists the allowed roots: it reaches whoever started the run.
    assert.throws(() => checkAllowedRoot('file:///etc', 'artifacts', env), (e: Error) => !e.message.includes('tenant-a'));
    assert.throws(() => checkAllowedRoot('s3:///x', 'artifacts', env), refused('artifacts', /must name a bucket/));
    assert.throws(() => allowedRoots({ KILN_ALLOWED_ROOTS: 'ftp://x' }), refused('KILN_ALLOWED_ROOTS', /file:\/\/ or s3:\/\//));
  });

  it('follows symlinks: a link inside an allowed folder that points elsewhere is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-roots-link-'));
    try {
      mkdirSync(join(dir, 'allowed'));
      symlinkSync('/etc', join(dir, 'allowed', 'etc-link'));
      const linked = { KILN_ALLOWED_ROOTS: fileUri(join(dir, 'allowed')) };
      checkAllowedRoot(fileUri(join(dir, 'allowed', 'runs', 'not-yet-created')), 'artifacts', linked);
      assert.throws(() => checkAllowedRoot(fileUri(join(dir, 'allowed', 'etc-link', 'kiln')), 'artifacts', linked), refused('artifacts', /must lie under a root/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('validateConfig refuses s3:// URIs without a bucket, naming the field', () => {
    assert.throws(() => validateConfig({ name: 'x', artifacts: 's3:///path' }), refused('artifacts', /must name a bucket \(s3:\/\/<bucket>\/<prefix>\), got "s3:\/\/\/path"/));
    assert.throws(() => validateConfig({ name: 'x', ingest: { source: 's3:///raw' } }), refused('ingest.source', /must name a bucket/));
  });
});

describe('a run with artifacts outside the allowed roots', () => {
  let env: TestWorkflowEnvironment;
  let allowed: string;
  before(async () => {
    env = await startTestServer();
    allowed = mkdtempSync(join(tmpdir(), 'kiln-roots-'));
    process.env.KILN_ALLOWED_ROOTS = fileUri(allowed);
  });
  after(async () => {
    await env?.teardown();
    rmSync(allowed, { recursive: true, force: true });
  });

  async function withWorkers<T>(calls: string[], body: () => Promise<T>): Promise<T> {
    const wf = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle() });
    // The real first activity; the run must stop there, so nothing else is registered.
    const data = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUES.data,
      activities: { prepareRun: async (input: Parameters<typeof prepareRun>[0]) => (calls.push('prepareRun'), prepareRun(input)) },
    });
    return wf.runUntil(data.runUntil(body));
  }

  async function failureOf(workflowId: string): Promise<ApplicationFailure> {
    const err = await env.client.workflow.getHandle(workflowId).result().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, `${workflowId} fails, got ${String(err)}`);
    const cause = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
    assert.ok(cause instanceof ApplicationFailure, String(cause));
    return cause;
  }

  it('fails in the worker, non-retryably, naming `artifacts`, whether the SDK or the temporal CLI started it', async () => {
    const calls: string[] = [];
    await withWorkers(calls, async () => {
      await env.client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: 'roots-etc-sdk', args: [{ name: 'etc', artifacts: 'file:///etc' }] });
      await promisify(execFile)(temporalBinary(), [
        'workflow', 'start', '--address', env.address, '--type', 'llmPipeline', '--task-queue', TASK_QUEUES.workflows,
        '--workflow-id', 'roots-etc-cli', '--input', JSON.stringify({ name: 'etc', artifacts: 'file:///etc/kiln' }),
      ]);
      for (const [id, uri] of [['roots-etc-sdk', 'file:///etc'], ['roots-etc-cli', 'file:///etc/kiln']] as const) {
        const cause = await failureOf(id);
        assert.equal(cause.type, ErrorType.InvalidConfig);
        assert.equal(cause.nonRetryable, true);
        assert.equal(cause.message, `Invalid config: \`artifacts\` must lie under a root the workers are allowed to use (their KILN_ALLOWED_ROOTS), got "${uri}".`);
        const history = await env.client.workflow.getHandle(id).fetchHistory();
        const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
        assert.deepEqual(attempts, [1], `${id}: prepareRun ran once, not retried`);
      }
    });
    assert.deepEqual(calls, ['prepareRun', 'prepareRun']);
  });

  it('fails the workflow validation on s3:///path (no bucket) before any activity', async () => {
    const calls: string[] = [];
    await withWorkers(calls, async () => {
      await env.client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: 'roots-nobucket', args: [{ name: 'nb', artifacts: 's3:///path' }] });
      const cause = await failureOf('roots-nobucket');
      assert.equal(cause.type, ErrorType.InvalidConfig);
      assert.equal(cause.nonRetryable, true);
      assert.equal(cause.message, 'Invalid config: `artifacts` must name a bucket (s3://<bucket>/<prefix>), got "s3:///path".');
    });
    assert.deepEqual(calls, []);
  });

  it('runs prepareRun under an allowed root', async () => {
    const out = await prepareRun({ config: validateConfig({ name: 'ok', artifacts: fileUri(join(allowed, 'a')) }), workflowId: 'w' });
    assert.equal(out.runUri, `${fileUri(join(allowed, 'a'))}/runs/w`);
  });
});
