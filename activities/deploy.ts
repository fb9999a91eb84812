/**
 * Deploys an exported model: prepares the engine (`deploy.engine`; for ct2 the CTranslate2
 * conversion, checked token for token against transformers and memoized in the artifact store),
 * starts the OpenAI-compatible completions server on it (a child of this GPU worker, which keeps
 * it alive), smoke-tests it (health, one completion, latency) and records the deployment (model
 * version, engine, endpoint) in the artifact store. vLLM (`deploy.engine: vllm`) serves the same
 * exported folder on GPU workers that have it; see README, serving.
 */
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType, fatal, transient } from '../contracts/errors.js';
import { joinUri, type StageResult } from '../lib/manifest.js';
import { pythonEnv, pythonExecutable, pythonDir } from '../lib/python.js';
import { EXEC_WITH_PARENT_DEATH_SIGNAL, EXIT_FATAL, assertSucceeded, runPythonTool } from '../lib/pythonTool.js';
import { store } from '../lib/storage/index.js';
import { downloadDirOnce, uploadDir } from '../lib/syncDir.js';
import { cacheDir } from '../lib/workdirs.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cancellationSignal, withHeartbeat } from './support/heartbeat.js';

export interface Deployment {
  model: string;
  modelVersion: string;
  modelUri: string;
  endpoint: string;
  recordUri: string;
  sampleCompletion: string;
  latencyMs: number;
  /** The engine that serves it (`deploy.engine`); absent in deployments recorded before engines. */
  engine?: EngineRecord;
}

export interface EngineRecord {
  kind: PipelineConfig['deploy']['engine'];
  computeType?: string;
  /** ct2: the conversion in the artifact store and its token-for-token check against transformers. */
  conversionUri?: string;
  check?: { prompts: number; tokens: number; match: boolean; reference: string };
}

interface Running {
  endpoint: string;
  child: ResultPromise;
}

/** Servers this worker started, by model version; stopped when the worker exits. */
const servers = new Map<string, Running>();

export function stopServers(): void {
  for (const { child } of servers.values()) child.kill('SIGTERM');
  servers.clear();
}

/** A fixed port (not 0) must be free: a clear error now instead of one after the model loads. */
async function assertPortFree(params: PipelineConfig['deploy']): Promise<void> {
  if (params.port === 0) return;
  const inUse = await new Promise<string | null>((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    probe.listen(params.port, params.host, () => probe.close(() => resolve(null)));
  });
  if (inUse !== null) {
    throw fatal(
      ErrorType.InvalidConfig,
      `Expected deploy.port ${params.port} to be free on ${params.host} (deploy.host), got ${inUse}: another process, or this worker's server of another model version, holds it. Pick another port, or 0 for any free one.`,
      { field: 'deploy.port', port: params.port, host: params.host, code: inUse },
    );
  }
}

/** The check's file, written last into a conversion: a conversion without it is unchecked. */
const CHECK_FILE = '_CHECK.json';

/**
 * The CTranslate2 conversion of an exported model version, checked against transformers: reused
 * from this worker's cache or the artifact store, else made here (kiln_native.engines.prepare,
 * which renames a finished conversion into place and writes the check last) and stored with the
 * check last. A check that fails is fatal and names the prompt.
 */
async function prepareCt2(artifactsRoot: string, modelDir: string, version: string, cancelSignal?: AbortSignal): Promise<{ dir: string; record: EngineRecord }> {
  const uri = joinUri(artifactsRoot, 'engines', version, 'ct2');
  const local = join(cacheDir('engines', version), 'ct2');
  if (!existsSync(join(local, CHECK_FILE))) {
    if (await store.exists(joinUri(uri, CHECK_FILE))) {
      rmSync(local, { recursive: true, force: true });
      await downloadDirOnce(uri, local);
    } else {
      const run = await runPythonTool('kiln_native.engines.prepare', ['--model', modelDir, '--out', local], { fatalType: ErrorType.InvalidInput, cancelSignal });
      assertSucceeded('kiln_native.engines.prepare', run, cancelSignal);
      await uploadDir(local, uri, { skip: (rel) => rel === CHECK_FILE });
      await store.upload(join(local, CHECK_FILE), joinUri(uri, CHECK_FILE));
    }
  }
  const check = JSON.parse(readFileSync(join(local, CHECK_FILE), 'utf8')) as NonNullable<EngineRecord['check']>;
  return { dir: local, record: { kind: 'ct2', conversionUri: uri, check: { prompts: check.prompts, tokens: check.tokens, match: check.match, reference: check.reference } } };
}

async function startServer(modelDir: string, name: string, params: PipelineConfig['deploy'], ct2Dir: string | undefined, cancelSignal?: AbortSignal): Promise<Running> {
  const engine = ['--engine', params.engine, '--threads', String(params.threads), ...(ct2Dir ? ['--ct2-dir', ct2Dir, '--compute-type', params.computeType, '--max-batch', String(params.maxBatch)] : [])];
  const serve = ['-m', 'kiln_native.serve', '--model', modelDir, ...engine, '--host', params.host, '--port', String(params.port), '--model-name', name];
  // The server lives exactly as long as this worker, even one killed with -9.
  const child = execa(pythonExecutable(), ['-c', EXEC_WITH_PARENT_DEATH_SIGNAL, pythonExecutable(), ...serve], {
    cwd: pythonDir(),
    env: pythonEnv(),
    stdin: 'ignore',
    buffer: false,
    reject: false,
  });
  // stderr (start-up errors, then one line per request) is drained for good; its tail explains a crash.
  const tail: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    tail.push(...chunk.split('\n'));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  });
  const stderrTail = () => tail.join('\n').trim().split('\n').slice(-15).join('\n');
  const endpoint = await new Promise<string>((resolve, reject) => {
    let pending = '';
    let errorMessage: string | undefined;
    const settle = (err?: unknown, url?: string) => {
      clearTimeout(timer);
      cancelSignal?.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve(url!);
      child.kill('SIGTERM');
      reject(err);
    };
    // vLLM loads weights and captures CUDA graphs before it listens: minutes for a large model.
    const startS = params.engine === 'vllm' ? 900 : 120;
    const timer = setTimeout(
      () => settle(transient(ErrorType.ToolFailed, `kiln_native.serve on ${modelDir} did not report listening within ${startS} s:\n${stderrTail()}`)),
      startS * 1000,
    );
    const onAbort = () => settle(cancelSignal!.reason);
    if (cancelSignal?.aborted) onAbort();
    cancelSignal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      for (const line of pending.split('\n').slice(0, -1)) {
        try {
          const e = JSON.parse(line) as { event?: string; url?: string; message?: string };
          if (e.event === 'listening' && e.url) settle(undefined, e.url);
          if (e.event === 'error') errorMessage = String(e.message);
        } catch {
          // not protocol output
        }
      }
      pending = pending.slice(pending.lastIndexOf('\n') + 1);
    });
    void child.then((r) => {
      // Exit 2 / an error event: the server refused its input (the model folder, host or port).
      if (r.exitCode === EXIT_FATAL || errorMessage !== undefined) {
        settle(fatal(ErrorType.InvalidInput, `kiln_native.serve refused to start on ${modelDir} (${params.host}:${params.port}): ${errorMessage ?? stderrTail()}`));
      } else {
        settle(transient(ErrorType.ToolFailed, `kiln_native.serve exited with code ${r.exitCode ?? r.signal} before listening:\n${stderrTail()}`));
      }
    });
  });
  return { endpoint, child };
}

/** fetch, with a network failure (the server died, the port closed) as a retryable smoke-test failure. */
async function request(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    throw transient(ErrorType.SmokeTestFailed, `${init?.method ?? 'GET'} ${url} failed: ${cause?.message ?? (err as Error).message}`);
  }
}

async function smokeTest(endpoint: string, name: string, prompt: string): Promise<{ text: string; latencyMs: number }> {
  const health = await request(`${endpoint}/health`);
  if (!health.ok) throw transient(ErrorType.SmokeTestFailed, `GET ${endpoint}/health answered ${health.status}`);
  const started = performance.now();
  const res = await request(`${endpoint}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: name, prompt, max_tokens: 32, temperature: 0 }),
  });
  const latencyMs = Math.round(performance.now() - started);
  if (!res.ok) throw transient(ErrorType.SmokeTestFailed, `POST ${endpoint}/v1/completions answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { object?: string; choices?: { text?: string }[] };
  const text = body.choices?.[0]?.text;
  if (body.object !== 'text_completion' || typeof text !== 'string') {
    throw transient(ErrorType.SmokeTestFailed, `completion response is not an OpenAI text_completion: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return { text, latencyMs };
}

export async function deployModel(input: { artifactsRoot: string; model: StageResult; name: string; params: PipelineConfig['deploy'] }): Promise<Deployment> {
  const version = input.model.fingerprint.slice(0, 16);
  // Configs from before engines existed resolve without these fields: they served on transformers.
  const given: Partial<PipelineConfig['deploy']> = input.params;
  const params = { ...input.params, engine: given.engine ?? 'hf', computeType: given.computeType ?? 'float32', maxBatch: given.maxBatch ?? 32, threads: given.threads ?? 1 };
  const key = `${version}:${params.engine}:${params.computeType}`;
  return withHeartbeat(async () => {
    let running = servers.get(key);
    if (running && running.child.exitCode !== null) running = undefined; // died since
    let engine: EngineRecord = { kind: params.engine };
    const local = await downloadDirOnce(input.model.dir, cacheDir('models', version));
    if (!existsSync(join(local, 'config.json'))) throw fatal(ErrorType.NotFound, `No exported model (config.json) under ${input.model.dir}.`);
    if (!running) await assertPortFree(params); // before a conversion: a clear error at once
    let ct2Dir: string | undefined;
    if (params.engine === 'ct2') {
      const prepared = await prepareCt2(input.artifactsRoot, local, version, cancellationSignal());
      ct2Dir = prepared.dir;
      engine = { ...prepared.record, computeType: params.computeType };
    }
    if (!running) {
      running = await startServer(local, input.name, params, ct2Dir, cancellationSignal());
      servers.set(key, running);
    }
    const smoke = await smokeTest(running.endpoint, input.name, input.params.smokePrompt);
    const record = {
      model: input.name,
      modelVersion: version,
      modelUri: input.model.dir,
      endpoint: running.endpoint,
      api: 'openai-completions',
      engine,
      smoke: { health: 'ok', prompt: input.params.smokePrompt, completion: smoke.text, latencyMs: smoke.latencyMs },
    };
    const recordUri = joinUri(input.artifactsRoot, 'deployments', input.name, `${version}.json`);
    await store.writeBytes(recordUri, JSON.stringify(record, null, 2) + '\n');
    await store.writeBytes(joinUri(input.artifactsRoot, 'deployments', input.name, 'latest.json'), JSON.stringify({ ...record, recordUri }, null, 2) + '\n');
    return { model: input.name, modelVersion: version, modelUri: input.model.dir, endpoint: running.endpoint, recordUri, sampleCompletion: smoke.text, latencyMs: smoke.latencyMs, engine };
  });
}
