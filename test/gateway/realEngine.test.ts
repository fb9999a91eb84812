// The gateway in front of the real engine (kiln_native.serve on a tiny random model, the
// transformers reference engine): streamed and whole completions agree through the gateway, FIM
// segments pass, the engine process's CPU and memory reach /metrics, and a killed engine leaves
// rotation.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { loadKeys } from '../../gateway/auth.js';
import { Gateway } from '../../gateway/server.js';
import { pythonDir, pythonEnv, pythonExecutable } from '../../lib/python.js';
import { buildTinyModel, type TinyModel } from '../support/tinyModel.js';

const KEY = 'sk-test-real-engine-0123';

describe('gateway in front of kiln_native.serve', () => {
  let model: TinyModel;
  let engine: ChildProcess;
  let engineUrl = '';
  let gateway: Gateway;
  let url = '';
  const logs: string[] = [];

  const complete = (body: Record<string, unknown>) =>
    fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'x-kiln-user': 'dana' },
      body: JSON.stringify(body),
    });

  before(async () => {
    model = buildTinyModel();
    engine = spawn(pythonExecutable(), ['-m', 'kiln_native.serve', '--model', model.modelDir, '--engine', 'hf', '--port', '0', '--model-name', 'tiny'], {
      cwd: pythonDir(),
      env: pythonEnv({ OMP_NUM_THREADS: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    engine.stderr!.resume();
    engineUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      engine.stdout!.setEncoding('utf8');
      engine.stdout!.on('data', (c: string) => {
        out += c;
        const m = /"url":\s*"([^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      engine.once('exit', (code) => reject(new Error(`kiln_native.serve exited ${code} before listening`)));
    });
    gateway = new Gateway({
      keys: loadKeys({ KILN_GATEWAY_KEYS: `test:${KEY}` }),
      routes: [{ version: 'v1', url: engineUrl, weight: 1, pid: engine.pid }],
      healthIntervalMs: 500,
      log: (line) => logs.push(line),
    });
    url = await gateway.listen();
  });

  after(async () => {
    engine?.kill('SIGKILL');
    await gateway?.close();
    if (model) rmSync(model.root, { recursive: true, force: true });
  });

  it('streams the same greedy text it answers whole, with the gateway id and the version', async () => {
    const body = { prompt: 'def add(a, b):\n', max_tokens: 8, temperature: 0, filename: 'x.py' };
    const whole = await complete(body);
    assert.equal(whole.status, 200, await whole.clone().text());
    const json = (await whole.json()) as { id: string; model: string; choices: { text: string }[]; usage: { completion_tokens: number } };
    assert.equal(json.model, 'v1');
    assert.match(json.id, /^cmpl-/);
    const streamed = await complete({ ...body, stream: true });
    assert.match(streamed.headers.get('content-type')!, /text\/event-stream/);
    const events = (await streamed.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { id: string; model: string; choices: { text: string }[] });
    assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), json.choices[0]!.text);
    assert.ok(chunks.every((c) => c.model === 'v1' && c.id === chunks[0]!.id && c.id !== json.id));
    const stats = gateway.metrics.snapshot().versions.v1!;
    assert.equal(stats.requests, 2);
    assert.equal(stats.byLanguage.Python!.completions, 2);
    assert.ok(stats.tokens >= json.usage.completion_tokens, `tokens ${stats.tokens}`);
  });

  it('passes Tabby segments as a fill-in-the-middle request', async () => {
    const res = await complete({ segments: { prefix: 'def add(a, b):\n    ', suffix: '\n    return result\n' }, max_tokens: 6, temperature: 0 });
    assert.equal(res.status, 200, await res.clone().text());
    const json = (await res.json()) as { choices: { text: string }[] };
    assert.equal(typeof json.choices[0]!.text, 'string');
  });

  it("reports the engine process's CPU and memory, and takes the killed engine out of rotation", async () => {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const rss = Number(/kiln_engine_process_resident_memory_bytes\{version="v1"\} (\S+)/.exec(metrics)?.[1]);
    assert.ok(rss > 10 * 1024 * 1024, `engine RSS ${rss}`);
    assert.match(metrics, /kiln_engine_process_cpu_seconds_total\{version="v1"\} [0-9.]+/);
    engine.kill('SIGKILL');
    await new Promise((r) => engine.once('exit', r));
    const res = await complete({ prompt: 'x', max_tokens: 1 });
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal(gateway.table.list()[0]!.healthy, false);
    assert.ok(logs.some((l) => l.includes('"event":"engine_down"')));
  });
});
