// The payload codec alone: round trip, key rotation, tampering, unknown keys, key parsing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ErrorType, nonRetryableErrorTypes } from '../../contracts/errors.js';
import { AesGcmCodec, ENCODING, KEY_ID_HEADER, parseCodecKeys } from '../../lib/security/codec.js';
import { describeEncryption, kilnDataConverter } from '../../lib/security/dataConverter.js';

const keyB64 = () => randomBytes(32).toString('base64');
const text = (b?: Uint8Array | null) => new TextDecoder().decode(b ?? new Uint8Array());
const config = { name: 'tenant-a', artifacts: 's3://tenant-a-bucket/runs', note: 'AKIA-planted-secret' };

async function rejectsUndecryptable(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, ErrorType.PayloadUndecryptable);
    assert.equal(err.nonRetryable, true);
    assert.ok(nonRetryableErrorTypes.includes(ErrorType.PayloadUndecryptable), 'activities do not retry it either (the SDK resets nonRetryable on argument decoding)');
    assert.match(err.message, message);
    return true;
  });
}

describe('AES-GCM payload codec', () => {
  it('round-trips payloads and leaves no plaintext in the encoded bytes', async () => {
    const codec = new AesGcmCodec(parseCodecKeys(`k1:${keyB64()}`));
    const plain = [defaultPayloadConverter.toPayload(config), defaultPayloadConverter.toPayload(42)];
    const encoded = await codec.encode(plain);
    assert.equal(text(encoded[0]!.metadata!.encoding), ENCODING);
    assert.equal(text(encoded[0]!.metadata![KEY_ID_HEADER]), 'k1');
    const bytes = Buffer.from(encoded[0]!.data!);
    for (const needle of ['tenant-a', 'AKIA-planted-secret', 'json/plain']) assert.ok(!bytes.includes(needle), `no ${needle} in the ciphertext`);
    const decoded = await codec.decode(encoded);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded[0]!), config);
    assert.equal(defaultPayloadConverter.fromPayload(decoded[1]!), 42);
    // A fresh IV per payload: the same value twice encrypts differently.
    const [a, b] = await codec.encode([plain[0]!, plain[0]!]);
    assert.notDeepEqual(Buffer.from(a!.data!), Buffer.from(b!.data!));
  });

  it('rotates keys: the old key still decrypts, the new one encrypts', async () => {
    const oldKey = keyB64();
    const before = new AesGcmCodec(parseCodecKeys(`2025-01:${oldKey}`));
    const old = await before.encode([defaultPayloadConverter.toPayload(config)]);
    const after = new AesGcmCodec(parseCodecKeys(`2026-06:${keyB64()},2025-01:${oldKey}`));
    assert.deepEqual(defaultPayloadConverter.fromPayload((await after.decode(old))[0]!), config);
    const fresh = await after.encode([defaultPayloadConverter.toPayload(config)]);
    assert.equal(text(fresh[0]!.metadata![KEY_ID_HEADER]), '2026-06');
    assert.equal(after.currentKeyId, '2026-06');
  });

  it('refuses a tampered payload with a non-retryable error naming the key id', async () => {
    const codec = new AesGcmCodec(parseCodecKeys(`k1:${keyB64()}`));
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(config)]);
    const flipped = Buffer.from(enc!.data!);
    flipped[20]! ^= 1;
    await rejectsUndecryptable(codec.decode([{ ...enc!, data: flipped }]), /key id `k1` failed AES-GCM authentication/);
    // Relabelling the payload with another known key id fails too (the key id is authenticated).
    const two = new AesGcmCodec(parseCodecKeys(`k1:${keyB64()},k2:${keyB64()}`));
    const [enc2] = await two.encode([defaultPayloadConverter.toPayload(config)]);
    const relabelled: Payload = { ...enc2!, metadata: { ...enc2!.metadata, [KEY_ID_HEADER]: new TextEncoder().encode('k2') } };
    await rejectsUndecryptable(two.decode([relabelled]), /key id `k2` failed AES-GCM authentication/);
    // A wrong key under the right id: the same failure, not a crash.
    const impostor = new AesGcmCodec(parseCodecKeys(`k1:${keyB64()}`));
    await rejectsUndecryptable(impostor.decode([enc!]), /key id `k1`/);
  });

  it('refuses a payload whose key id it does not hold, naming that id', async () => {
    const [enc] = await new AesGcmCodec(parseCodecKeys(`gone:${keyB64()}`)).encode([defaultPayloadConverter.toPayload(1)]);
    await rejectsUndecryptable(new AesGcmCodec(parseCodecKeys(`k1:${keyB64()}`)).decode([enc!]), /key id `gone`, which is not among this process's KILN_CODEC_KEYS \(k1\)/);
  });

  it('passes plain payloads through (histories from before encryption stay readable)', async () => {
    const codec = new AesGcmCodec(parseCodecKeys(`k1:${keyB64()}`));
    const plain = defaultPayloadConverter.toPayload(config);
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  it('parses KILN_CODEC_KEYS with errors that name the entry', () => {
    assert.deepEqual(parseCodecKeys(undefined), []);
    assert.deepEqual(parseCodecKeys(' '), []);
    assert.throws(() => parseCodecKeys('k1:c2hvcnQ='), /key `k1` in KILN_CODEC_KEYS to be 32 bytes in base64 .*got 5 bytes/);
    assert.throws(() => parseCodecKeys(`k1 x:${keyB64()}`), /entry 1 of KILN_CODEC_KEYS/);
    assert.throws(() => parseCodecKeys(keyB64()), /entry 1 of KILN_CODEC_KEYS to be `<keyId>:<base64 key>`/);
    const k = keyB64();
    assert.throws(() => parseCodecKeys(`a:${k},a:${k}`), /Key id `a` appears twice/);
  });

  it('is off without keys (plain payloads, and the start-up line says so)', () => {
    assert.deepEqual(kilnDataConverter({}), {});
    assert.match(describeEncryption({}), /NOT encrypted/);
    const on = kilnDataConverter({ KILN_CODEC_KEYS: `k9:${keyB64()}` });
    assert.equal(on.payloadCodecs?.length, 1);
    assert.match(on.failureConverterPath!, /failureConverter\.ts$/);
    const line = describeEncryption({ KILN_CODEC_KEYS: `k9:${keyB64()},k8:${keyB64()}` });
    assert.match(line, /key id k9; 1 older key/);
  });
});
