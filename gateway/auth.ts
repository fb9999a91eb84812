/**
 * API keys: one per client (`name:key`, from KILN_GATEWAY_KEYS and/or the file named by
 * KILN_GATEWAY_KEYS_FILE) and one admin key (KILN_GATEWAY_ADMIN_KEY). Requests are logged and
 * counted under the client's *name*; a key is never logged, echoed or put in a metric label.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ErrorType, fatal } from '../contracts/errors.js';
import { GatewayEnv } from '../contracts/gateway.js';
import { RequestError } from './errors.js';

export interface Keys {
  /** SHA-256 of each client key -> the client's name. */
  clients: Map<string, string>;
  adminDigest?: Buffer;
}

const digest = (key: string) => createHash('sha256').update(key).digest();

/** Parses `name:key` entries (comma- or newline-separated; `#` starts a comment line). */
export function parseKeyList(text: string, source: string): [string, string][] {
  const out: [string, string][] = [];
  for (const [i, raw] of text.split(/[,\n]/).entries()) {
    const entry = raw.trim();
    if (!entry || entry.startsWith('#')) continue;
    const at = entry.indexOf(':');
    const name = entry.slice(0, at).trim();
    const key = entry.slice(at + 1).trim();
    // The message names the entry's position, never its text: the text holds a key.
    if (at <= 0 || !name || key.length < 8) {
      throw fatal(ErrorType.InvalidConfig, `${source}: entry ${i + 1} must be \`name:key\` with a key of at least 8 characters.`);
    }
    out.push([name, key]);
  }
  return out;
}

export function loadKeys(env: NodeJS.ProcessEnv = process.env): Keys {
  const entries: [string, string][] = [];
  const inline = env[GatewayEnv.keys];
  if (inline) entries.push(...parseKeyList(inline, GatewayEnv.keys));
  const file = env[GatewayEnv.keysFile];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw fatal(ErrorType.InvalidConfig, `${GatewayEnv.keysFile}: cannot read ${file}: ${(err as Error).message}`);
    }
    entries.push(...parseKeyList(text, file));
  }
  if (entries.length === 0) {
    throw fatal(ErrorType.InvalidConfig, `No client keys: set ${GatewayEnv.keys}="name:key,..." or ${GatewayEnv.keysFile} to a file of name:key lines.`);
  }
  const clients = new Map<string, string>();
  for (const [name, key] of entries) clients.set(digest(key).toString('hex'), name);
  const admin = env[GatewayEnv.adminKey];
  return { clients, adminDigest: admin ? digest(admin) : undefined };
}

function bearer(req: IncomingMessage): string {
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) throw new RequestError(401, 'Missing API key: send `Authorization: Bearer <key>`.', null, 'authentication_error', 'missing_api_key');
  return m[1]!;
}

/** The client's name for a valid client key; 401 otherwise. */
export function authenticateClient(keys: Keys, req: IncomingMessage): string {
  const name = keys.clients.get(digest(bearer(req)).toString('hex'));
  if (name === undefined) throw new RequestError(401, 'Incorrect API key.', null, 'authentication_error', 'invalid_api_key');
  return name;
}

export function authenticateAdmin(keys: Keys, req: IncomingMessage): void {
  if (!keys.adminDigest) throw new RequestError(403, `The admin API is off: start the gateway with ${GatewayEnv.adminKey} set.`, null, 'permission_error');
  // Digests have equal lengths, so the comparison is constant-time whatever the key's length.
  if (!timingSafeEqual(digest(bearer(req)), keys.adminDigest)) throw new RequestError(401, 'Incorrect admin key.', null, 'authentication_error', 'invalid_api_key');
}
