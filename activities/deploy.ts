/**
 * Deploys an exported model: starts the OpenAI-compatible completions server on it (a child of
 * this GPU worker, which keeps it alive), smoke-tests it (health, one completion, latency) and
 * records the deployment (model version, endpoint) in the artifact store.
 * Thin on purpose: one local server process per worker. Production serving (vLLM / TGI / Triton)
 * loads the same exported folder; see README.
 */
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType, fatal, transient } from '../contracts/errors.js';
import { joinUri, type StageResult } from '../lib/manifest.js';
import { pythonEnv, pythonExecutable, pythonDir } from '../lib/python.js';
import { EXEC_WITH_PARENT_DEATH_SIGNAL } from '../lib/pythonTool.js';
import { store } from '../lib/storage/index.js';
import { downloadDirOnce } from '../lib/syncDir.js';
import { cacheDir } from '../lib/workdirs.js';
import { existsSync } from 'node:fs';
import { withHeartbeat } from './support/heartbeat.js';

export interface Deployment {
  model: string;
  modelVersion: string;
  modelUri: string;
  endpoint: string;
  recordUri: string;
  sampleCompletion: string;
  latencyMs: number;
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

async function startServer(modelDir: string, name: string, params: PipelineConfig['deploy']): Promise<Running> {
  const serve = ['-m', 'kiln_trainer.serve', '--model', modelDir, '--host', params.host, '--port', String(params.port), '--model-name', name];
  // The server lives exactly as long as this worker, even one killed with -9.
  const child = execa(pythonExecutable(), ['-c', EXEC_WITH_PARENT_DEATH_SIGNAL, pythonExecutable(), ...serve], {
    cwd: pythonDir(),
    env: pythonEnv(),
    stdin: 'ignore',
    stderr: 'ignore',
    buffer: false,
    reject: false,
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error('inference server did not report listening within 120 s')), 120_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      for (const line of pending.split('\n').slice(0, -1)) {
        try {
          const e = JSON.parse(line) as { event?: string; url?: string };
          if (e.event === 'listening' && e.url) {
            clearTimeout(timer);
            resolve(e.url);
          }
        } catch {
          // not protocol output
        }
      }
      pending = pending.slice(pending.lastIndexOf('\n') + 1);
    });
    void child.then((r) => {
      clearTimeout(timer);
      reject(new Error(`inference server exited with code ${r.exitCode} before listening`));
    });
  });
  return { endpoint, child };
}

async function smokeTest(endpoint: string, name: string, prompt: string): Promise<{ text: string; latencyMs: number }> {
  const health = await fetch(`${endpoint}/health`);
  if (!health.ok) throw transient(ErrorType.SmokeTestFailed, `GET ${endpoint}/health answered ${health.status}`);
  const started = performance.now();
  const res = await fetch(`${endpoint}/v1/completions`, {
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
  return withHeartbeat(async () => {
    let running = servers.get(version);
    if (running && running.child.exitCode !== null) running = undefined; // died since
    if (!running) {
      const local = await downloadDirOnce(input.model.dir, cacheDir('models', version));
      if (!existsSync(join(local, 'config.json'))) throw fatal(ErrorType.NotFound, `No exported model (config.json) under ${input.model.dir}.`);
      running = await startServer(local, input.name, input.params);
      servers.set(version, running);
    }
    const smoke = await smokeTest(running.endpoint, input.name, input.params.smokePrompt);
    const record = {
      model: input.name,
      modelVersion: version,
      modelUri: input.model.dir,
      endpoint: running.endpoint,
      api: 'openai-completions',
      smoke: { health: 'ok', prompt: input.params.smokePrompt, completion: smoke.text, latencyMs: smoke.latencyMs },
    };
    const recordUri = joinUri(input.artifactsRoot, 'deployments', input.name, `${version}.json`);
    await store.writeBytes(recordUri, JSON.stringify(record, null, 2) + '\n');
    await store.writeBytes(joinUri(input.artifactsRoot, 'deployments', input.name, 'latest.json'), JSON.stringify({ ...record, recordUri }, null, 2) + '\n');
    return { model: input.name, modelVersion: version, modelUri: input.model.dir, endpoint: running.endpoint, recordUri, sampleCompletion: smoke.text, latencyMs: smoke.latencyMs };
  });
}
