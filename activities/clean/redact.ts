/**
 * PII detection and redaction for source code, after BigCode's pipeline for StarCoder:
 * e-mails -> <EMAIL>, IP addresses -> <IP_ADDRESS>, secret keys -> <KEY>, passwords -> <PASSWORD>.
 * Offsets are UTF-16 code units (JavaScript string indexes), end exclusive. Precision over
 * recall, as StarCoder's filters. One detector per module, each stating its policy:
 * pii/emails.ts, ipAddresses.ts, pii/secrets.ts (with pii/entropy.ts), pii/passwords.ts.
 * `kiln redact` and the clean stage both call findPii / redactPii.
 */
import { findIpAddresses } from './ipAddresses.js';
import { findEmails } from './pii/emails.js';
import { findPasswords } from './pii/passwords.js';
import { findKeys } from './pii/secrets.js';
import { PII_PLACEHOLDERS, type PiiEntity, type PiiType } from './pii/types.js';

export { isGlobalIPv4, isGlobalIPv6 } from './ipAddresses.js';
export { looksRandomSecret, shannonEntropy } from './pii/entropy.js';
export { looksLikePassword } from './pii/passwords.js';
export { PII_PLACEHOLDERS, PII_TYPES, type PiiEntity, type PiiType } from './pii/types.js';

/** Ties at the same start go to the longer match, then to this order. */
const PRIORITY: Record<PiiType, number> = { KEY: 0, PASSWORD: 1, EMAIL: 2, IP_ADDRESS: 3 };

/** Every PII span in `text`: sorted by start, non-overlapping (earliest, then longest wins). */
export function findPii(text: string): PiiEntity[] {
  const found: PiiEntity[] = [];
  findKeys(text, found);
  findPasswords(text, found);
  findEmails(text, found);
  findIpAddresses(text, found);
  found.sort((a, b) => a.start - b.start || b.end - a.end || PRIORITY[a.type] - PRIORITY[b.type]);
  const out: PiiEntity[] = [];
  let lastEnd = 0;
  for (const e of found) {
    if (e.end <= e.start || e.start < lastEnd) continue;
    out.push(e);
    lastEnd = e.end;
  }
  return out;
}

export function emptyPiiCounts(): Record<PiiType, number> {
  return { EMAIL: 0, IP_ADDRESS: 0, KEY: 0, PASSWORD: 0 };
}

/** `text` with every PII span replaced by its placeholder, and how many of each type. */
export function redactPii(text: string): { text: string; counts: Record<PiiType, number> } {
  const counts = emptyPiiCounts();
  const entities = findPii(text);
  if (entities.length === 0) return { text, counts };
  const parts: string[] = [];
  let pos = 0;
  for (const e of entities) {
    parts.push(text.slice(pos, e.start), PII_PLACEHOLDERS[e.type]);
    counts[e.type]++;
    pos = e.end;
  }
  parts.push(text.slice(pos));
  return { text: parts.join(''), counts };
}
