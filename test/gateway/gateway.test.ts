// The gateway as users start it (`kiln gateway`, a separate process) in front of two fake
// engines: auth, OpenAI-shaped 400s, proxying and streaming, events bookkeeping, /metrics,
// /admin/stats, an engine that dies and comes back, and no key in its logs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GatewayRouteStatus, GatewayStats } from '../../contracts/gateway.js';
import { repoRoot } from '../../lib/workdirs.js';
import { startFakeEngine, type FakeEngine } from './fakeEngine.js';

// Answers are read field by field in the assertions; a missing field fails the assertion that reads it.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- see above

const CLIENT_KEY = 'sk-client-7f3a9c1e5b2d4f60';
const OTHER_KEY = 'sk-other-0e9d8c7b6a5f4e3d';
const ADMIN_KEY = 'sk-admin-1a2b3c4d5e6f7a8b';

describe('gateway (kiln gateway, fake engines)', () => {
  let a: FakeEngine;
  let b: FakeEngine;
  let gw: ChildProcess;
  let url = '';
  let logs = '';

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, key = CLIENT_KEY) => {
    const res = await fetch(url + path, {
      method,
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json: json as Json, text };
  };
  const admin = (method: string, path: string, body?: unknown) => call(method, path, body, {}, ADMIN_KEY);
  const stats = async () => (await admin('GET', '/admin/stats')).json as unknown as GatewayStats;
  const routes = async () => (await admin('GET', '/admin/routes')).json.routes as GatewayRouteStatus[];
  const waitFor = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  const expect400 = (r: { status: number; json: Json }, param: string | null, message: RegExp) => {
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.param, param);
    assert.match(r.json.error.message, message);
  };

  before(async () => {
    a = await startFakeEngine('tiny');
    b = await startFakeEngine('tiny');
    const dir = mkdtempSync(join(tmpdir(), 'kiln-gw-'));
    const keysFile = join(dir, 'keys');
    writeFileSync(keysFile, `# editor plug-ins\nother:${OTHER_KEY}\n`);
    const routesFile = join(dir, 'routes.json');
    writeFileSync(routesFile, JSON.stringify({ routes: [{ version: 'v1', url: a.url, weight: 0.5, aliases: ['production'] }, { version: 'v2', url: b.url, weight: 0.5 }] }));
    gw = spawn(process.execPath, [join(repoRoot, 'bin/kiln.js'), 'gateway', '--port', '0', '--routes', routesFile, '--max-body-bytes', '4096', '--health-interval-ms', '200'], {
      env: { ...process.env, KILN_GATEWAY_KEYS: `sim:${CLIENT_KEY}`, KILN_GATEWAY_KEYS_FILE: keysFile, KILN_GATEWAY_ADMIN_KEY: ADMIN_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gw.stdout!.setEncoding('utf8');
    gw.stderr!.setEncoding('utf8');
    gw.stderr!.on('data', (c: string) => (logs += c));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      gw.stdout!.on('data', (c: string) => {
        logs += c;
        out += c;
        const m = /"url":"([^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      gw.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${logs}`)));
    });
  });

  after(async () => {
    gw?.kill('SIGTERM');
    await a?.stop();
    await b?.stop();
  });

  it('answers --help, and refuses to start without client keys', async () => {
    const help = spawn(process.execPath, [join(repoRoot, 'bin/kiln.js'), 'gateway', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    help.stdout!.on('data', (c: Buffer) => (text += c.toString()));
    assert.equal(await new Promise((r) => help.once('exit', r)), 0);
    assert.match(text, /KILN_GATEWAY_KEYS/);
    const env = { ...process.env };
    delete env.KILN_GATEWAY_KEYS;
    delete env.KILN_GATEWAY_KEYS_FILE;
    const bare = spawn(process.execPath, [join(repoRoot, 'bin/kiln.js'), 'gateway', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    bare.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    assert.equal(await new Promise((r) => bare.once('exit', r)), 1);
    assert.match(err, /No client keys: set KILN_GATEWAY_KEYS/);
  });

  it('refuses a missing or wrong key with 401, and the admin API with a client key', async () => {
    const none = await call('POST', '/v1/completions', { prompt: 'x' }, {}, '');
    assert.equal(none.status, 401);
    assert.equal(none.json.error.type, 'authentication_error');
    assert.equal((await call('POST', '/v1/completions', { prompt: 'x' }, {}, 'sk-wrong-key-123456')).status, 401);
    assert.equal((await call('GET', '/admin/routes')).status, 401);
    assert.equal((await call('POST', '/v1/completions', { prompt: 'x', max_tokens: 2 }, {}, OTHER_KEY)).status, 200, 'keys from the file work too');
  });

  it('answers bad requests with OpenAI-shaped 400s naming the field, and 413 past the size limit', async () => {
    expect400(await call('POST', '/v1/completions', '{"prompt": "x",'), null, /could not parse the JSON body/);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', model: 'gpt-4' }), 'model', /The model `gpt-4` does not exist/);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', max_tokens: -1 }), 'max_tokens', /between 1 and 4096, got -1/);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', temperature: 'hot' }), 'temperature', /must be a number/);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', n: 1.5 }), 'n', /must be an integer/);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', stop: [1] }), 'stop', /at most 4 strings/);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', stream: 'yes' }), 'stream', /true or false/);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', best_of: 3 }), 'best_of', /Unrecognized request argument/);
    expect400(await call('POST', '/v1/completions', { max_tokens: 3 }), 'prompt', /`prompt` is required/);
    expect400(await call('POST', '/v1/completions', { prompt: ['ok', 3] }), 'prompt', /a string or a list of 1 to 16 strings/);
    expect400(await call('POST', '/v1/completions', { segments: { prefix: 1 } }), 'segments.prefix', /must be a string/);
    const big = await call('POST', '/v1/completions', { prompt: 'x'.repeat(5000) });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'request_too_large');
    expect400(await admin('PUT', '/admin/routes', { routes: [{ version: 'v1', url: a.url, weight: -2 }] }), 'routes[0].weight', /must be a number >= 0/);
    assert.equal((await routes()).length, 2, 'a refused PUT changes nothing');
  });

  it('proxies a completion: the gateway id, the version that answered, the engine model name, FIM segments', async () => {
    const r = await call('POST', '/v1/completions', { segments: { prefix: 'def f(', suffix: '\n    return x\n' }, max_tokens: 3, filename: 'src/app.py' }, { 'x-kiln-user': 'alice' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.id, /^cmpl-[0-9a-f-]{36}$/);
    assert.ok(['v1', 'v2'].includes(r.json.model));
    assert.equal(r.json.choices[0].text, 'def f(x');
    const engine = r.json.model === 'v1' ? a : b;
    const sent = engine.bodies.at(-1)!;
    assert.deepEqual(sent, { prompt: 'def f(', suffix: '\n    return x\n', max_tokens: 3, model: 'tiny' });
    // Sticky: alice gets the same version every time; naming an alias pins it.
    for (let i = 0; i < 5; i++) assert.equal((await call('POST', '/v1/completions', { prompt: 'x', max_tokens: 1 }, { 'x-kiln-user': 'alice' })).json.model, r.json.model);
    assert.equal((await call('POST', '/v1/completions', { prompt: 'x', max_tokens: 1, model: 'production' })).json.model, 'v1');
    assert.equal((await call('POST', '/v1/completions', { prompt: 'x', max_tokens: 1, model: 'v2' })).json.model, 'v2');
    assert.ok([...a.bodies, ...b.bodies].every((body) => body.model === 'tiny'));
  });

  it('passes SSE streams through with the gateway id and version in every chunk', async () => {
    const res = await fetch(url + '/v1/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', 'x-kiln-user': 'bob' },
      body: JSON.stringify({ prompt: 'def', max_tokens: 5, stream: true, language: 'python' }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { id: string; model: string; choices: { text: string }[] });
    assert.equal(chunks.map((c) => c.choices[0]!.text).join(''), 'def f(x): return');
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.match(chunks[0]!.id, /^cmpl-/);
    assert.ok(['v1', 'v2'].includes(chunks[0]!.model) && chunks.every((c) => c.model === chunks[0]!.model));
    const s = await stats();
    assert.ok(s.versions[chunks[0]!.model]!.byLanguage.Python!.completions >= 1, 'language: python -> Python');
  });

  it('books view, accept and reject per version and language; an unknown id is a 404', async () => {
    const before = await stats();
    const made = await call('POST', '/v1/completions', { prompt: 'func main() {', max_tokens: 2, filename: 'cmd/main.go' }, { 'x-kiln-user': 'carol' });
    const { id, model } = made.json as { id: string; model: string };
    assert.equal((await call('POST', '/v1/events', { type: 'view', completion_id: id })).status, 200);
    const ok = await call('POST', '/v1/events', { type: 'accept', completion_id: id, accepted_chars: 12, accepted_lines: 2 });
    assert.deepEqual(ok.json, { ok: true, version: model, language: 'Go' });
    assert.equal((await call('POST', '/v1/events', { type: 'reject', completion_id: id })).status, 200);
    const missing = await call('POST', '/v1/events', { type: 'view', completion_id: 'cmpl-nope' });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.param, 'completion_id');
    expect400(await call('POST', '/v1/events', { type: 'like', completion_id: id }), 'type', /one of view, accept, reject/);
    expect400(await call('POST', '/v1/events', { type: 'accept', completion_id: id, accepted_chars: -1 }), 'accepted_chars', /integer >= 0/);
    const after = await stats();
    const go = after.versions[model]!.byLanguage.Go!;
    const was = before.versions[model]?.byLanguage.Go ?? { completions: 0, views: 0, accepts: 0, rejects: 0, acceptedChars: 0, acceptedLines: 0 };
    assert.deepEqual(
      { completions: go.completions - was.completions, views: go.views - was.views, accepts: go.accepts - was.accepts, rejects: go.rejects - was.rejects, acceptedChars: go.acceptedChars - was.acceptedChars, acceptedLines: go.acceptedLines - was.acceptedLines },
      { completions: 1, views: 1, accepts: 1, rejects: 1, acceptedChars: 12, acceptedLines: 2 },
    );
    assert.ok(after.now >= after.startedAt);
  });

  it('exports the series on /metrics, labelled by version and language', async () => {
    const res = await fetch(url + '/metrics');
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const series of [
      /kiln_gateway_request_duration_seconds_bucket\{le="0\.005",version="v[12]",stream="false"\}/,
      /kiln_gateway_time_to_first_token_seconds_count\{version="v[12]"\} [1-9]/,
      /kiln_gateway_generated_tokens_total\{version="v[12]"\} [1-9]/,
      /kiln_gateway_in_flight_requests\{version="v[12]"\} 0/,
      /kiln_gateway_events_total\{version="v[12]",language="Go",type="accept"\} 1/,
      /kiln_gateway_accepted_chars_total\{version="v[12]",language="Go"\} 12/,
      /kiln_gateway_completions_total\{version="v[12]",language="Python"\}/,
      /kiln_gateway_rejected_requests_total\{status="400"\}/,
      /kiln_gateway_route_weight\{version="v1"\} 0\.5/,
      /kiln_gateway_engine_up\{version="v2"\} 1/,
      /kiln_gateway_process_cpu_seconds_total/,
    ]) assert.match(text, series);
  });

  it('takes a dead engine out of rotation, sends its users elsewhere, and puts it back when it answers again', async () => {
    const port = a.port;
    await a.stop();
    // Requests routed by weight never fail: a failed connection moves the request to v2.
    for (let i = 0; i < 20; i++) {
      const r = await call('POST', '/v1/completions', { prompt: 'x', max_tokens: 1 }, { 'x-kiln-user': `user-${i}` });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.model, 'v2');
    }
    assert.equal((await routes()).find((r) => r.version === 'v1')!.healthy, false);
    const pinned = await call('POST', '/v1/completions', { prompt: 'x', model: 'v1' });
    assert.equal(pinned.status, 503);
    assert.equal(pinned.json.error.code, 'engine_unavailable');
    assert.match((await (await fetch(url + '/metrics')).text()), /kiln_gateway_engine_up\{version="v1"\} 0/);
    a = await startFakeEngine('tiny', port);
    await waitFor('v1 back in rotation', async () => (await routes()).find((r) => r.version === 'v1')!.healthy);
    assert.equal((await call('POST', '/v1/completions', { prompt: 'x', model: 'v1', max_tokens: 1 })).json.model, 'v1');
  });

  it('counts an engine 500 as an error of its version and passes it on', async () => {
    b.failWith = 500;
    const before = (await stats()).versions.v2!.errors;
    const r = await call('POST', '/v1/completions', { prompt: 'x', model: 'v2' });
    b.failWith = undefined;
    assert.equal(r.status, 500);
    assert.equal((await stats()).versions.v2!.errors, before + 1);
  });

  it('replaces the routes atomically', async () => {
    const put = await admin('PUT', '/admin/routes', { routes: [{ version: 'v2', url: b.url, weight: 1 }] });
    assert.equal(put.status, 200);
    assert.deepEqual((await routes()).map((r) => [r.version, r.weight]), [['v2', 1]]);
    expect400(await call('POST', '/v1/completions', { prompt: 'x', model: 'v1' }), 'model', /does not exist/);
  });

  it('lays FIM out as one prompt for an engine that takes no suffix (fimPrompt)', async () => {
    assert.equal((await admin('PUT', '/admin/routes', { routes: [{ version: 'v2', url: b.url, weight: 1, fimPrompt: true }] })).status, 200);
    const r = await call('POST', '/v1/completions', { segments: { prefix: 'def f(', suffix: ')' }, max_tokens: 2 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(b.bodies.at(-1), { prompt: '<fim_prefix>def f(<fim_suffix>)<fim_middle>', max_tokens: 2, model: 'tiny' });
  });

  it('never writes a key to its logs', () => {
    assert.match(logs, /"path":"\/v1\/completions"/, 'the log has request lines');
    assert.match(logs, /"client":"sim"/);
    for (const key of [CLIENT_KEY, OTHER_KEY, ADMIN_KEY, 'sk-wrong-key-123456']) assert.ok(!logs.includes(key), 'a key reached the log');
  });
});
