// The codec server over real HTTP: the protocol the Temporal UI and CLI speak, CORS for the UI's
// origin, the optional bearer token, and the `kiln codec-server` command itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmCodec, parseCodecKeys } from '../../lib/security/codec.js';
import { createCodecServer } from '../../lib/security/codecServer.js';
import { repoRoot } from '../../lib/workdirs.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const codec = new AesGcmCodec(parseCodecKeys(KEYS));
const UI = 'http://localhost:8233';
const b64 = (u?: Uint8Array | null) => Buffer.from(u ?? new Uint8Array()).toString('base64');
const toJson = (p: Payload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) });
const fromJson = (p: { metadata: Record<string, string>; data: string }): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data, 'base64'),
});

let server: Server;
let base: string;

before(async () => {
  server = createCodecServer({ codec, origins: [UI], token: 'sesame' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server?.close());

function post(path: string, body: unknown, headers: Record<string, string> = { authorization: 'Bearer sesame' }) {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, body: JSON.stringify(body) });
}

describe('codec server', () => {
  it('decodes what the workers encrypted, and encodes for the UI, under any path prefix', async () => {
    const value = { artifacts: 'file:///srv/tenant-a', n: 3 };
    const encrypted = await codec.encode([defaultPayloadConverter.toPayload(value)]);
    const res = await post('/kiln/default/decode', { payloads: encrypted.map(toJson) });
    assert.equal(res.status, 200);
    const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(defaultPayloadConverter.fromPayload(fromJson(payloads[0]!)), value);

    const enc = await post('/encode', { payloads: [toJson(defaultPayloadConverter.toPayload('from the UI'))] });
    const encoded = ((await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads.map(fromJson);
    assert.equal(new TextDecoder().decode(encoded[0]!.metadata!.encoding!), 'binary/encrypted');
    assert.equal(defaultPayloadConverter.fromPayload((await codec.decode(encoded))[0]!), 'from the UI');
  });

  it('answers CORS preflights for the UI origin only', async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
    const ok = await preflight(UI);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), UI);
    assert.match(ok.headers.get('access-control-allow-headers')!, /X-Namespace/);
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
    const other = await preflight('http://evil.example');
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('refuses requests without the token, bad bodies, and tampered payloads with a clear error', async () => {
    const encrypted = (await codec.encode([defaultPayloadConverter.toPayload('x')])).map(toJson);
    assert.equal((await post('/decode', { payloads: encrypted }, {})).status, 401);
    assert.equal((await post('/decode', { payloads: encrypted }, { authorization: 'Bearer wrong!' })).status, 401);
    const bad = await post('/decode', { nope: 1 });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /\{"payloads": \[\.\.\.\]\}/);
    const data = Buffer.from(encrypted[0]!.data, 'base64');
    data[data.length - 1]! ^= 1;
    const tampered = await post('/decode', { payloads: [{ ...encrypted[0], data: data.toString('base64') }] });
    assert.equal(tampered.status, 400);
    assert.match(((await tampered.json()) as { error: string }).error, /key id `k1` failed AES-GCM authentication/);
    assert.equal((await post('/other', { payloads: [] })).status, 404);
  });

  it('runs as `kiln codec-server` with the keys from the environment', async () => {
    const kiln = (args: string[], env: Record<string, string>) =>
      spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'cli/main.ts'), 'codec-server', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const help = kiln(['--help'], {});
    let helpText = '';
    help.stdout.on('data', (d: Buffer) => (helpText += d));
    assert.equal((await once(help, 'exit'))[0], 0);
    assert.match(helpText, /--ui-codec-endpoint/);

    const noKeys = kiln(['--port', '0'], { KILN_CODEC_KEYS: '' });
    let err = '';
    noKeys.stderr.on('data', (d: Buffer) => (err += d));
    assert.equal((await once(noKeys, 'exit'))[0], 1);
    assert.match(err, /KILN_CODEC_KEYS is not set/);

    const child = kiln(['--port', '0'], { KILN_CODEC_KEYS: KEYS, KILN_CODEC_SERVER_TOKEN: '' });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          const m = /codec server on (http:\/\/[\d.]+:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`kiln codec-server exited ${code}`)));
      });
      const encrypted = await codec.encode([defaultPayloadConverter.toPayload({ ok: true })]);
      const res = await fetch(`${url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ payloads: encrypted.map(toJson) }) });
      assert.equal(res.status, 200);
      const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
      assert.deepEqual(defaultPayloadConverter.fromPayload(fromJson(payloads[0]!)), { ok: true });
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
