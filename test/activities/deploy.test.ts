// deployModel (GPU activity): converts the exported model for CTranslate2 and checks it against
// transformers token for token (memoized in the artifact store), starts the OpenAI-compatible
// server on the configured engine, smoke-tests it and records the deployment; a second call for
// the same model version keeps the running server; a conversion that disagrees, a busy port, a
// folder that is no model, vLLM where it is not installed and a server that refuses to start fail
// typed and non-retryably.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { deployModel, stopServers, type Deployment } from '../../activities/deploy.js';
import { ErrorType } from '../../contracts/errors.js';
import type { PipelineConfig } from '../../lib/config/types.js';
import type { StageResult } from '../../lib/manifest.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { failureMatching } from '../support/failures.js';
import { processesMatching, waitGone } from '../support/processes.js';
import { buildTinyModel, committedStage } from '../support/tinyModel.js';

const home = mkdtempSync(join(tmpdir(), 'kiln-deploy-home-'));
process.env.KILN_HOME = home; // the model cache (and so the server's --model) is this file's own

let base: string;
let root: string;
let modelDir: string;

const deploy = (extra: Partial<PipelineConfig['deploy']> = {}): PipelineConfig['deploy'] => ({
  host: '127.0.0.1',
  port: 0,
  smokePrompt: 'def add(a, b):',
  engine: 'ct2',
  computeType: 'float32',
  maxBatch: 32,
  threads: 1,
  ...extra,
});
const localConversion = (version: string) => join(home, 'cache', 'engines', version, 'ct2');

/** The exported model as a committed stage under another fingerprint (another model version). */
function version(tag: string): Promise<StageResult> {
  const dir = join(base, 'artifacts', 'stages', 'export', tag);
  cpSync(modelDir, dir, { recursive: true });
  return committedStage('export', dir, tag);
}

describe('deployModel', () => {
  before(() => {
    modelDir = buildTinyModel().modelDir;
    base = mkdtempSync(join(tmpdir(), 'kiln-deploy-'));
    root = fileUri(join(base, 'artifacts'));
  });
  after(() => stopServers());

  it('converts and checks the model, serves it on ct2, smoke-tests it, records the deployment, and keeps the one server for the same version', async () => {
    const model = await version('v1');
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const d = (await env.run(deployModel, { artifactsRoot: root, model, name: 'tiny', params: deploy() })) as Deployment;
    assert.match(d.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(d.modelVersion, model.fingerprint.slice(0, 16));
    assert.equal(typeof d.sampleCompletion, 'string');
    assert.ok(d.latencyMs >= 0);
    assert.ok(beats >= 1, 'heartbeats while it starts');
    assert.equal(d.recordUri, `${root}/deployments/tiny/${d.modelVersion}.json`);
    const record = JSON.parse(readFileSync(fileUriToPath(d.recordUri), 'utf8'));
    const conversionUri = `${root}/engines/${d.modelVersion}/ct2`;
    assert.ok(record.engine.check.tokens > 0);
    assert.deepEqual(record, {
      model: 'tiny',
      modelVersion: d.modelVersion,
      modelUri: model.dir,
      endpoint: d.endpoint,
      api: 'openai-completions',
      engine: { kind: 'ct2', computeType: 'float32', conversionUri, check: { prompts: 9, tokens: record.engine.check.tokens, match: true, reference: 'transformers' } },
      smoke: { health: 'ok', prompt: 'def add(a, b):', completion: d.sampleCompletion, latencyMs: d.latencyMs },
    });
    assert.deepEqual(d.engine, record.engine);
    // The conversion is in the artifact store, its check written with it.
    for (const file of ['_CHECK.json', 'config.json', 'model.bin', 'vocabulary.json']) assert.ok(existsSync(join(fileUriToPath(conversionUri), file)), file);
    assert.deepEqual(JSON.parse(readFileSync(fileUriToPath(`${root}/deployments/tiny/latest.json`), 'utf8')), { ...record, recordUri: d.recordUri });
    const health = (await (await fetch(`${d.endpoint}/health`)).json()) as { status: string; model: string };
    assert.deepEqual(health, { status: 'ok', model: 'tiny', engine: 'ct2' });

    // A retry of the same deployment finds its server running: same endpoint, no second process.
    const again = await deployModel({ artifactsRoot: root, model, name: 'tiny', params: deploy() });
    assert.equal(again.endpoint, d.endpoint);
    assert.equal(processesMatching('kiln_native.serve', home).length, 1);

    stopServers();
    await waitGone(['kiln_native.serve', home]);

    // Another worker (no local copy) takes the checked conversion from the store instead of converting again.
    rmSync(localConversion(d.modelVersion), { recursive: true, force: true });
    const elsewhere = await deployModel({ artifactsRoot: root, model, name: 'tiny', params: deploy() });
    assert.ok(existsSync(join(localConversion(d.modelVersion), '.complete')), 'downloaded (downloadDirOnce marks it), not converted');
    assert.deepEqual(elsewhere.engine, d.engine);
    stopServers();
    await waitGone(['kiln_native.serve', home]);
  });

  it('a conversion that disagrees with transformers fails the deploy non-retryably, naming the prompt, and serves nothing', async () => {
    const model = await version('v5');
    const tag = model.fingerprint.slice(0, 16);
    // A conversion left in this worker's cache, unchecked, whose vocabulary is reversed: it reads
    // every prompt as other tokens, so its greedy output is another model's.
    const right = localConversion('v1'.padEnd(16, '0')); // the first test's, checked
    cpSync(right, localConversion(tag), { recursive: true, filter: (src) => !src.endsWith('_CHECK.json') && !src.endsWith('.complete') });
    const vocabulary = join(localConversion(tag), 'vocabulary.json');
    writeFileSync(vocabulary, JSON.stringify((JSON.parse(readFileSync(vocabulary, 'utf8')) as string[]).reverse()));
    await assert.rejects(
      deployModel({ artifactsRoot: root, model, name: 'tiny', params: deploy() }),
      failureMatching(ErrorType.InvalidInput, /CTranslate2 \(float32\) and transformers disagree on check prompt .+: greedy token \d+ is /),
    );
    assert.equal(existsSync(join(fileUriToPath(`${root}/engines/${tag}/ct2`), '_CHECK.json')), false);
    assert.deepEqual(processesMatching('kiln_native.serve', home), []);
  });

  it('the reference engine serves on transformers; vllm where it is not installed fails non-retryably saying so', async () => {
    const model = await version('v6');
    const d = await deployModel({ artifactsRoot: root, model, name: 'tiny', params: deploy({ engine: 'hf' }) });
    assert.deepEqual(d.engine, { kind: 'hf' });
    assert.equal(((await (await fetch(`${d.endpoint}/health`)).json()) as { engine: string }).engine, 'hf');
    stopServers();
    await waitGone(['kiln_native.serve', home]);
    await assert.rejects(
      deployModel({ artifactsRoot: root, model, name: 'tiny', params: deploy({ engine: 'vllm' }) }),
      failureMatching(ErrorType.InvalidInput, /kiln_native\.serve refused to start .*engine vllm: the vllm package is not installed/),
    );
  });

  it('a fixed port that is in use fails as InvalidConfig naming deploy.port, before any server starts', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      await assert.rejects(
        deployModel({ artifactsRoot: root, model: await version('v2'), name: 'tiny', params: deploy({ port }) }),
        failureMatching(ErrorType.InvalidConfig, new RegExp(`deploy\\.port ${port} to be free on 127\\.0\\.0\\.1 .*got EADDRINUSE`)),
      );
      assert.deepEqual(processesMatching('kiln_native.serve', home), []);
    } finally {
      holder.close();
    }
  });

  it('a model folder without config.json, or no folder at all, fails as NotFound naming it', async () => {
    const dir = join(base, 'artifacts', 'stages', 'export', 'empty');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'no model here\n');
    const notModel = await committedStage('export', dir, 'notmodel');
    await assert.rejects(deployModel({ artifactsRoot: root, model: notModel, name: 'tiny', params: deploy() }), failureMatching(ErrorType.NotFound, /No exported model \(config\.json\) under .*\/empty/));
    const gone = { ...notModel, fingerprint: 'e'.repeat(64), dir: `${root}/stages/export/never-written` };
    await assert.rejects(deployModel({ artifactsRoot: root, model: gone, name: 'tiny', params: deploy() }), failureMatching(ErrorType.NotFound, /No objects under .*never-written/));
  });

  it('a server that refuses to start (an address it cannot bind) fails non-retryably with the server\'s reason', async () => {
    // 192.0.2.1 (TEST-NET-1) is no address of this machine.
    await assert.rejects(
      deployModel({ artifactsRoot: root, model: await version('v3'), name: 'tiny', params: deploy({ host: '192.0.2.1', engine: 'hf' }) }),
      failureMatching(ErrorType.InvalidInput, /kiln_native\.serve refused to start .*cannot listen on 192\.0\.2\.1:0/),
    );
    await waitGone(['kiln_native.serve', home]);
  });
});
