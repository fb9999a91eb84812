/**
 * AES-256-GCM payload codec: every payload the workers and clients send to Temporal (workflow
 * inputs and results, activity arguments, heartbeat details, query answers, failure details) is
 * stored encrypted, so histories hold no plaintext config, paths or stats.
 *
 * Keys come from KILN_CODEC_KEYS="<keyId>:<base64 of 32 bytes>,<older keyId>:<base64>,...".
 * The first key encrypts; every listed key decrypts (rotation: add the new key second on every
 * worker and client, then move it first, then drop the old one once no open history needs it).
 * An encrypted payload records its key id in its metadata, so old histories stay readable.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { ErrorType, fatal } from '../../contracts/errors.js';

export const ENCODING = 'binary/encrypted';
export const KEY_ID_HEADER = 'encryption-key-id';
export const CIPHER_HEADER = 'encryption-cipher';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const { Payload: PayloadProto } = proto.temporal.api.common.v1;
const utf8 = new TextEncoder();
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : '');

export interface CodecKey {
  id: string;
  key: Buffer;
}

/** Parses KILN_CODEC_KEYS; an empty or unset value means no encryption. Errors name the variable and the entry. */
export function parseCodecKeys(raw: string | undefined, variable = 'KILN_CODEC_KEYS'): CodecKey[] {
  if (!raw?.trim()) return [];
  const keys: CodecKey[] = [];
  for (const [i, entry] of raw.split(',').map((e) => e.trim()).entries()) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
      throw new Error(`Expected entry ${i + 1} of ${variable} to be \`<keyId>:<base64 key>\` with a key id of letters, digits, '.', '_' or '-', got \`${id || entry.slice(0, 16)}\`.`);
    }
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32) {
      throw new Error(`Expected key \`${id}\` in ${variable} to be 32 bytes in base64 (AES-256; \`openssl rand -base64 32\`), got ${key.length} bytes.`);
    }
    if (keys.some((k) => k.id === id)) throw new Error(`Key id \`${id}\` appears twice in ${variable}.`);
    keys.push({ id, key });
  }
  return keys;
}

export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: CodecKey[]) {
    if (keys.length === 0) throw new Error('AesGcmCodec needs at least one key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The key that encrypts new payloads. */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv);
      // The key id is authenticated too: a payload relabelled with another key id fails.
      cipher.setAAD(utf8.encode(id));
      const body = Buffer.concat([cipher.update(PayloadProto.encode(payload).finish()), cipher.final()]);
      return {
        metadata: { encoding: utf8.encode(ENCODING), [KEY_ID_HEADER]: utf8.encode(id), [CIPHER_HEADER]: utf8.encode('AES-256-GCM') },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // Payloads written before encryption was switched on stay readable as they are.
      if (text(payload.metadata?.encoding) !== ENCODING) return payload;
      const id = text(payload.metadata?.[KEY_ID_HEADER]);
      const key = this.byId.get(id);
      if (!key) {
        throw fatal(
          ErrorType.PayloadUndecryptable,
          `Payload encrypted with key id \`${id}\`, which is not among this process's KILN_CODEC_KEYS (${[...this.byId.keys()].join(', ')}): add that key (decrypt-only keys go after the current one).`,
          { keyId: id },
        );
      }
      const data = payload.data ?? new Uint8Array();
      try {
        if (data.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
        const decipher = createDecipheriv(CIPHER, key, data.subarray(0, IV_BYTES));
        decipher.setAAD(utf8.encode(id));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
        return PayloadProto.decode(plain) as Payload;
      } catch {
        throw fatal(
          ErrorType.PayloadUndecryptable,
          `Payload encrypted with key id \`${id}\` failed AES-GCM authentication: it was altered, or key \`${id}\` in KILN_CODEC_KEYS is not the key that encrypted it.`,
          { keyId: id },
        );
      }
    });
  }
}
