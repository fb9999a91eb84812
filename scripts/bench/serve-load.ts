/**
 * Load benchmark of the inference engines (not a test): each engine serves the same exported
 * model in turn (kiln_native.serve, as the deploy stage starts it) and takes a bounded loopback
 * load of streamed greedy completions of code prefixes at concurrency 1, 4 and 16, a fixed
 * number of requests each. Prints one table: latency p50/p95/p99, time to first token, tokens/s.
 *
 *   npm run bench:serve -- [--requests 48] [--max-tokens 32] [--engines ct2,ct2-int8,hf] [--threads 1] [--model DIR]
 *
 * Every engine gets the same CPU threads (--threads, default 1: the dev machines share their cores).
 *
 * The model: the newest one exported by a `configs/tiny.json` run under .kiln/artifacts, else a
 * freshly initialised Llama of the same shape (random weights, a tokenizer trained here) in a
 * temporary folder; the output says which.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pythonDir, pythonEnv, pythonExecutable, repoRoot } from '../../lib/python.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '48' },
    'max-tokens': { type: 'string', default: '32' },
    engines: { type: 'string', default: 'ct2,ct2-int8,hf' },
    concurrency: { type: 'string', default: '1,4,16' },
    model: { type: 'string' },
    threads: { type: 'string', default: '1' },
  },
});
const REQUESTS = Number(values.requests);
const MAX_TOKENS = Number(values['max-tokens']);
const LEVELS = values.concurrency.split(',').map(Number);

// A fixed prompt set: code prefixes in the languages kiln trains on, as an editor sends them.
const PROMPTS = [
  'def fibonacci(n):\n    if n < 2:\n        return n\n',
  'import os\nimport sys\n\n\ndef main(argv):\n    ',
  'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n',
  'def read_lines(path):\n    with open(path) as f:\n',
  'function greet(name) {\n  return `Hello, ${name}!`;\n}\n\nfunction ',
  'package main\n\nimport "fmt"\n\nfunc main() {\n\t',
  'for i in range(10):\n    print(',
  'SELECT id, name FROM users WHERE ',
];

interface Engine {
  label: string;
  args: string[];
}
const ENGINES: Record<string, Engine> = {
  ct2: { label: 'ct2 (CTranslate2 float32)', args: ['--engine', 'ct2', '--compute-type', 'float32'] },
  'ct2-int8': { label: 'ct2 (CTranslate2 int8)', args: ['--engine', 'ct2', '--compute-type', 'int8'] },
  hf: { label: 'hf (transformers, reference)', args: ['--engine', 'hf'] },
};

/** The tiny model's shape (configs/tiny.json's model section, as export writes it). */
const TINY_SHAPE = { hidden: 64, layers: 2 };

function trainedTinyModel(): string | undefined {
  const root = join(repoRoot(), '.kiln', 'artifacts', 'stages', 'export');
  if (!existsSync(root)) return undefined;
  const candidates = readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => existsSync(join(d, 'config.json')) && existsSync(join(d, '_MANIFEST.json')))
    .filter((d) => {
      const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as { hidden_size: number; num_hidden_layers: number };
      return c.hidden_size === TINY_SHAPE.hidden && c.num_hidden_layers === TINY_SHAPE.layers;
    })
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return candidates[0];
}

// A random Llama of configs/tiny.json's shape (vocabulary 1024, context 128), with a tokenizer
// trained by kiln's own tokenizer tool on the tests' small corpus.
const FRESH = `
import sys, torch
sys.path.insert(0, 'tests')
from pathlib import Path
from fixtures_native import train_tokenizer
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
root = Path(sys.argv[1])
tok = train_tokenizer(root, 1024)
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=1024, hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4, max_position_embeddings=128, bos_token_id=0, eos_token_id=0, pad_token_id=0,
                  tie_word_embeddings=False)
LlamaForCausalLM(cfg).save_pretrained(root / 'model')
PreTrainedTokenizerFast(tokenizer_file=str(tok), eos_token='<|endoftext|>', bos_token='<|endoftext|>',
                        pad_token='<|endoftext|>').save_pretrained(root / 'model')
`;

function freshTinyModel(dir: string): string {
  execFileSync(pythonExecutable(), ['-c', FRESH, dir], { cwd: pythonDir(), env: pythonEnv(), stdio: ['ignore', 'ignore', 'inherit'] });
  return join(dir, 'model');
}

async function startEngine(model: string, engine: Engine, ct2Dir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(pythonExecutable(), ['-m', 'kiln_native.serve', '--model', model, '--ct2-dir', ct2Dir, ...engine.args, '--threads', values.threads, '--port', '0'], {
    cwd: pythonDir(),
    env: pythonEnv(),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let pending = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      for (const line of pending.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const e = JSON.parse(line) as { event: string; url?: string; message?: string };
          if (e.event === 'listening') resolve(e.url!);
          if (e.event === 'error') reject(new Error(e.message));
        } catch {
          // a partial line
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`kiln_native.serve exited with ${code} before listening`)));
  });
  return { url, child };
}

interface Sample {
  latencyMs: number;
  ttftMs: number;
  tokens: number;
  text: string;
}

/** One streamed greedy completion: latency to [DONE], time to the first text, tokens (usage). */
async function complete(url: string, prompt: string): Promise<Sample> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, max_tokens: MAX_TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw new Error(`POST /v1/completions answered ${res.status}: ${await res.text()}`);
  let ttftMs = -1;
  let tokens = 0;
  let text = '';
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, cut).replace(/^data: /, '');
      buffered = buffered.slice(cut + 2);
      if (event === '[DONE]') continue;
      const data = JSON.parse(event) as { choices: { text: string }[]; usage?: { completion_tokens: number } };
      for (const c of data.choices) {
        if (c.text && ttftMs < 0) ttftMs = performance.now() - started;
        text += c.text;
      }
      if (data.usage) tokens = data.usage.completion_tokens;
    }
  }
  const latencyMs = performance.now() - started;
  return { latencyMs, ttftMs: ttftMs < 0 ? latencyMs : ttftMs, tokens, text };
}

/** CPU seconds a process has used (user + system), from /proc: a figure other jobs on the machine do not inflate. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  return (Number(fields[11]) + Number(fields[12])) / ticks; // utime, stime (fields 14 and 15)
}

/** `requests` completions, `concurrency` at a time, prompts in a fixed order. */
async function load(url: string, concurrency: number, requests: number): Promise<{ samples: Sample[]; wallMs: number }> {
  const samples: Sample[] = new Array<Sample>(requests);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < requests; i = next++) samples[i] = await complete(url, PROMPTS[i % PROMPTS.length]!);
    }),
  );
  return { samples, wallMs: performance.now() - started };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Row {
  engine: string;
  concurrency: number;
  p50: number;
  p95: number;
  p99: number;
  ttft50: number;
  ttft95: number;
  tokensPerS: number;
  tokensPerCpuS: number;
  requestsPerS: number;
  texts: string[];
}

async function main(): Promise<void> {
  const temp = mkdtempSync(join(tmpdir(), 'kiln-bench-serve-'));
  try {
    let model = values.model ?? trainedTinyModel();
    const source = values.model
      ? `--model ${values.model}`
      : model
        ? `trained by configs/tiny.json: ${model.slice(repoRoot().length + 1)}`
        : 'freshly initialised tiny Llama of configs/tiny.json\'s shape (random weights; no trained model under .kiln/artifacts)';
    if (!model) {
      console.error('no model trained by configs/tiny.json under .kiln/artifacts: initialising one of the same shape...');
      model = freshTinyModel(temp);
    }
    const ct2Dir = join(temp, 'ct2'); // converted once by the first ct2 engine, reused by the others
    const rows: Row[] = [];
    for (const name of values.engines.split(',')) {
      const engine = ENGINES[name];
      if (!engine) throw new Error(`unknown engine ${name} (one of ${Object.keys(ENGINES).join(', ')})`);
      console.error(`starting ${engine.label}...`);
      const { url, child } = await startEngine(model, engine, ct2Dir);
      try {
        await load(url, 2, 4); // warm-up: first-request allocations, caches
        for (const concurrency of LEVELS) {
          const cpu0 = cpuSeconds(child.pid!);
          const { samples, wallMs } = await load(url, concurrency, REQUESTS);
          const cpu = cpuSeconds(child.pid!) - cpu0;
          const tokens = samples.reduce((a, s) => a + s.tokens, 0);
          const latency = samples.map((s) => s.latencyMs);
          const ttft = samples.map((s) => s.ttftMs);
          rows.push({
            engine: name,
            concurrency,
            p50: percentile(latency, 50),
            p95: percentile(latency, 95),
            p99: percentile(latency, 99),
            ttft50: percentile(ttft, 50),
            ttft95: percentile(ttft, 95),
            tokensPerS: (tokens * 1000) / wallMs,
            tokensPerCpuS: tokens / cpu,
            requestsPerS: (REQUESTS * 1000) / wallMs,
            texts: samples.map((s) => s.text),
          });
          console.error(`  ${name} c=${concurrency}: ${rows.at(-1)!.tokensPerS.toFixed(0)} tokens/s`);
        }
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
    print(rows, source);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

function print(rows: Row[], source: string): void {
  const f = (ms: number) => ms.toFixed(0);
  console.log(`\nkiln serve load benchmark: ${REQUESTS} streamed greedy requests per level, max_tokens ${MAX_TOKENS}, ${PROMPTS.length} code prefixes, loopback`);
  console.log(`model: ${source}`);
  console.log(`machine: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} CPU cores; ${values.threads} thread(s) per engine`);
  console.log(`machine load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  console.log('| engine | concurrency | p50 ms | p95 ms | p99 ms | TTFT p50 ms | TTFT p95 ms | tokens/s | tokens/CPU-s | requests/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.engine} | ${r.concurrency} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.p99)} | ${f(r.ttft50)} | ${f(r.ttft95)} | ${r.tokensPerS.toFixed(0)} | ${r.tokensPerCpuS.toFixed(0)} | ${r.requestsPerS.toFixed(1)} |`);
  }
  const at = (engine: string, c: number) => rows.find((r) => r.engine === engine && r.concurrency === c);
  const top = Math.max(...LEVELS);
  const ref = at('hf', top);
  for (const engine of ['ct2', 'ct2-int8']) {
    const r = at(engine, top);
    if (!r || !ref) continue;
    const same = r.texts.filter((t, i) => t === ref.texts[i]).length;
    console.log(
      `\n${engine} vs hf at concurrency ${top}: ${(r.tokensPerS / ref.tokensPerS).toFixed(2)}x the throughput (goal >= 3x; ${(r.tokensPerCpuS / ref.tokensPerCpuS).toFixed(2)}x per CPU-s), p95 ${f(r.p95)} ms vs ${f(ref.p95)} ms (goal: no worse); ` +
        `${same}/${r.texts.length} completions identical to transformers'`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
