/**
 * What payload encryption costs: AES-256-GCM encode and decode per payload (a pipeline config and a
 * 256 KiB payload), the bytes it adds, and one decode round trip through the codec server.
 *   npx tsx scripts/bench-codec.ts
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmCodec, parseCodecKeys } from '../lib/security/codec.js';
import { createCodecServer } from '../lib/security/codecServer.js';

const codec = new AesGcmCodec(parseCodecKeys(`k1:${randomBytes(32).toString('base64')}`));
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function perPayload(label: string, payload: Payload, n: number): Promise<Payload[]> {
  const batch = Array.from({ length: n }, () => payload);
  let t0 = process.hrtime.bigint();
  const enc = await codec.encode(batch);
  const encMs = ms(t0);
  t0 = process.hrtime.bigint();
  await codec.decode(enc);
  const decMs = ms(t0);
  const plain = payload.data!.length;
  const sealed = enc[0]!.data!.length;
  console.log(
    `${label.padEnd(22)} ${String(plain).padStart(7)} B -> ${String(sealed).padStart(7)} B (+${sealed - plain} B data)  encode ${((encMs * 1000) / n).toFixed(1).padStart(7)} us  decode ${((decMs * 1000) / n).toFixed(1).padStart(7)} us  (${n} payloads)`,
  );
  return enc;
}

const config = defaultPayloadConverter.toPayload(JSON.parse(readFileSync(new URL('../configs/tiny.json', import.meta.url), 'utf8')));
const enc = await perPayload('tiny config', config, 20_000);
await perPayload('256 KiB payload', defaultPayloadConverter.toPayload(randomBytes(192 * 1024).toString('base64')), 200);

const server = createCodecServer({ codec, origins: [] });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/decode`;
const b64 = (u?: Uint8Array | null) => Buffer.from(u ?? new Uint8Array()).toString('base64');
const body = JSON.stringify({ payloads: enc.slice(0, 100).map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(p.data) })) });
const rounds = 50;
await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }); // warm-up
const t0 = process.hrtime.bigint();
for (let i = 0; i < rounds; i++) await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).arrayBuffer();
console.log(`codec server /decode, 100 config payloads per request: ${(ms(t0) / rounds).toFixed(2)} ms per request (${rounds} requests)`);
server.close();
