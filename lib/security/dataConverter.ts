/**
 * The one DataConverter of kiln: workers (Worker.create), clients (the CLI, the e2e and workflow
 * tests) and the codec server take it from here, so the whole stack agrees on how payloads are
 * encrypted. With KILN_CODEC_KEYS unset (the dev default) payloads stay plain JSON.
 */
import { fileURLToPath } from 'node:url';
import type { Payload } from '@temporalio/common';
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec, parseCodecKeys } from './codec.js';

type Env = Record<string, string | undefined>;

/** Encodes failure messages and stack traces into a payload, so the codec covers them too. */
export const failureConverterPath = fileURLToPath(new URL('./failureConverter.ts', import.meta.url));

/** The codec for KILN_CODEC_KEYS, or undefined when no key is set. */
export function codecFromEnv(env: Env = process.env): AesGcmCodec | undefined {
  const keys = parseCodecKeys(env.KILN_CODEC_KEYS);
  return keys.length ? new AesGcmCodec(keys) : undefined;
}

/** For Worker.create({ dataConverter }) and new Client({ dataConverter }). */
export function kilnDataConverter(env: Env = process.env): DataConverter {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec], failureConverterPath } : {};
}

/** One line for a worker's or client's start-up log: whether histories are encrypted, never a key. */
export function describeEncryption(env: Env = process.env): string {
  const keys = parseCodecKeys(env.KILN_CODEC_KEYS);
  if (!keys.length) return 'payloads NOT encrypted (KILN_CODEC_KEYS unset: the dev default; histories hold configs and paths in plain text)';
  const older = keys.length - 1;
  return `payloads encrypted (AES-256-GCM, key id ${keys[0]!.id}${older ? `; ${older} older key(s) decrypt only` : ''})`;
}

/** Payloads as stored in a history, decrypted when the codec is on (for code that reads histories directly). */
export async function decodePayloads(payloads: Payload[], env: Env = process.env): Promise<Payload[]> {
  const codec = codecFromEnv(env);
  return codec ? codec.decode(payloads) : payloads;
}
