/**
 * PII detection and redaction for source code, after BigCode's regex pipeline (StarCoder):
 * e-mails -> <EMAIL>, IP addresses -> <IP_ADDRESS>, secret keys -> <KEY>, passwords -> <PASSWORD>.
 * Offsets are UTF-16 code units (JavaScript string indexes), end exclusive.
 *
 * Policy decisions (precision over recall, as StarCoder's filters):
 * - E-mails: a match whose last label is a file extension (`icon@2x.png`) is no address;
 *   `git@host:owner/repo` (SSH remotes) is kept. Addresses in license headers are redacted.
 * - IP addresses (ipAddresses.ts): only globally routable unicast addresses are redacted.
 *   Private, loopback, link-local, CGNAT, documentation, benchmark, multicast and reserved
 *   ranges (v4 and v6) are kept, and so are well-known public DNS resolvers (8.8.8.8, 1.1.1.1).
 *   Version-like quads are kept: single digits (`1.2.3.4`), or any quad near "version",
 *   "release" or an x.y.z version, unless dns/server/host/ip/addr appears within 100
 *   characters; so are quads after `§`, `==`, `Chrome/` or inside number lists (SVG paths).
 * - Keys: provider formats (AWS, GitHub, Slack, Stripe, Google, PEM private key blocks), plus
 *   quoted values assigned to a name with a key/secret/token part (`API_KEY`, `apiKey`,
 *   `x-api-key`; not `monkey`, `primary_key`, `tokenizer`) that look random: >= 16 characters,
 *   mixed-case letters and digits, 32+ hex digits, or letters, digits and 3+ symbols, with a
 *   Shannon entropy >= 3 bits per character, and no placeholder, path, URL or list shape.
 * - Passwords: quoted literals assigned to a name holding password/passwd/pwd, unless they
 *   contain whitespace or are a template/placeholder (`${X}`, `{{x}}`, `<x>`, `%s`, `****`),
 *   a label (`"password"`) or a version (`"^1.2.0"`, package.json's `pbkdf2-password`).
 */
import { findIpAddresses } from './ipAddresses.js';

export { isGlobalIPv4, isGlobalIPv6 } from './ipAddresses.js';

export const PII_TYPES = ['EMAIL', 'IP_ADDRESS', 'KEY', 'PASSWORD'] as const;
export type PiiType = (typeof PII_TYPES)[number];

export interface PiiEntity {
  type: PiiType;
  /** UTF-16 offset of the first code unit. */
  start: number;
  /** UTF-16 offset after the last code unit. */
  end: number;
}

export const PII_PLACEHOLDERS: Record<PiiType, string> = {
  EMAIL: '<EMAIL>',
  IP_ADDRESS: '<IP_ADDRESS>',
  KEY: '<KEY>',
  PASSWORD: '<PASSWORD>',
};

/** Ties at the same start go to the longer match, then to this order. */
const PRIORITY: Record<PiiType, number> = { KEY: 0, PASSWORD: 1, EMAIL: 2, IP_ADDRESS: 3 };

// ---------------------------------------------------------------------------------------------
// E-mail addresses

/** Characters of an address's local part (before '@'). */
const EMAIL_LOCAL_CHAR = /[\w.%+-]/;
/** The domain after '@', anchored there: labels, then a letters-only top-level label. */
const EMAIL_DOMAIN = /(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w-]|\.[A-Za-z0-9])/y;

/** Last labels that are file extensions, not top-level domains (`logo@2x.png`, `a@b.min.js`). */
const FILE_EXTENSIONS = new Set(
  ('png jpg jpeg gif svg webp ico bmp tif tiff avif heic psd js mjs cjs jsx ts tsx css scss sass less ' +
    'html htm xml json yaml yml toml ini cfg conf md rst txt csv tsv log lock map py pyc rb go rs java ' +
    'kt scala swift php pl lua vue svelte woff woff2 ttf otf eot mp3 mp4 wav ogg webm avi mov pdf zip ' +
    'gz tgz bz2 xz tar jar wasm exe dll dylib bin dat').split(' '),
);

function isAsciiAlnum(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9]/.test(ch);
}

/** Scans from each '@': the local part backwards, the domain forwards (fast on large files). */
function findEmails(text: string, out: PiiEntity[]): void {
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && at - start <= 64 && EMAIL_LOCAL_CHAR.test(text[start - 1]!)) start--;
    if (start === at || at - start > 64 || !isAsciiAlnum(text[start])) continue; // `@x`, `.x@`, `-x@`
    EMAIL_DOMAIN.lastIndex = at + 1;
    const m = EMAIL_DOMAIN.exec(text);
    if (!m) continue;
    const end = at + 1 + m[0].length;
    if (FILE_EXTENSIONS.has(m[1]!.toLowerCase())) continue;
    if (text.slice(start, at) === 'git' && text[end] === ':') continue; // git@github.com:owner/repo.git
    out.push({ type: 'EMAIL', start, end });
    at = end - 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Secret keys

/** Provider formats: the whole match (or group `value` when present) is the key. */
const KEY_PATTERNS: RegExp[] = [
  // PEM private key blocks (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP ... BLOCK); the body may be
  // split into quoted, escaped or concatenated string pieces, but holds no code.
  /-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s\\"'+,:-]{32,}?-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----/g,
  // AWS access key ids
  /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[0-9A-Z]{16}(?![A-Za-z0-9])/g,
  // AWS secret access keys next to their name
  /aws_?secret(?:_?access)?(?:_?key)?["']?\s*(?::=|=>|[:=])\s*["']?(?<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
  // GitHub tokens (classic and fine-grained)
  /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])/g,
  // Slack tokens and incoming-webhook URLs
  /(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9-]{10,250}/g,
  /https:\/\/hooks\.slack\.com\/services\/T[A-Za-z0-9_]+\/B[A-Za-z0-9_]+\/[A-Za-z0-9_]+/g,
  // Stripe secret and restricted keys
  /(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,247}(?![A-Za-z0-9_])/g,
  // Google API keys and OAuth client secrets
  /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g,
  /(?<![A-Za-z0-9_-])GOCSPX-[0-9A-Za-z_-]{28}(?![0-9A-Za-z_-])/g,
];

/**
 * `name = "value"` assignments (also `name: "value"`, `"name": "value"`, `name := "value"`,
 * `name => "value"`, `config["name"] = "value"`). The regexes start at the keyword, which keeps
 * them fast; the whole name is then read backwards from the keyword.
 */
function findAssignments(text: string, keyword: RegExp): { name: string; valueStart: number; value: string }[] {
  const out: { name: string; valueStart: number; value: string }[] = [];
  for (const m of text.matchAll(keyword)) {
    let nameStart = m.index!;
    while (nameStart > 0 && /[\w.$-]/.test(text[nameStart - 1]!) && m.index! - nameStart < 60) nameStart--;
    if (!startsNamePart(text.slice(nameStart, m.index!), text[m.index!]!)) continue;
    const name = /^[\w.$-]*/.exec(text.slice(nameStart, m.index! + m[0].length))![0];
    const value = m.groups!.value!;
    out.push({ name, valueStart: m.index! + m[0].length - 1 - value.length, value });
  }
  return out;
}

/** Words that run into key/secret/token/password in names like `apikey`, `authtoken`. */
const JOINED_PREFIX = /(?:api|access|auth|secret|private|client|session|master|app|bearer|refresh|db|user|admin|root|signing|encryption)$/i;

/**
 * True when the keyword starts a part of the name (`API_KEY`, `apiKey`, `x-api-key`, `apikey`),
 * not the middle of a word (`rekey`, `monkey`, `hotkey`).
 */
function startsNamePart(before: string, first: string): boolean {
  const prev = before[before.length - 1];
  if (prev === undefined || !/[A-Za-z0-9]/.test(prev)) return true;
  if (/[a-z0-9]/.test(prev) && /[A-Z]/.test(first)) return true; // camelCase
  if (/[A-Z]/.test(prev) && /[A-Z]/.test(first)) return true; // SHOUTING (APIKEY)
  return JOINED_PREFIX.test(before);
}

const ASSIGN = `[\\w-]{0,30}["']?\\]?\\s*(?::=|=>|==|[:=])\\s*`;
const SECRET_ASSIGNMENT = new RegExp(
  `(?:key|secret|token)(?<rest>${ASSIGN}(?<q>["'\`])(?<value>[^"'\`\\s\\\\]{16,256})\\k<q>)`,
  'gi',
);
const PASSWORD_ASSIGNMENT = new RegExp(
  `(?:password|passwd|passwort|pwd)(?<rest>${ASSIGN}(?<q>["'\`])(?<value>[^"'\`\\n]{1,200})\\k<q>)`,
  'gi',
);

/** Names with key/secret/token that do not hold secrets. */
const NOT_SECRET_NAME =
  /(?:primary|foreign|sort|partition|cache|row|hash|public|pub|i18n|translation)_?key|keys?_?(?:name|id|path|file|type|size|length|prefix|field)|tokeni[sz]er|token_?(?:type|name|url|endpoint|uri|path)/i;

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  const chars = [...s];
  const counts = new Map<string, number>();
  for (const ch of chars) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / chars.length;
    h -= p * Math.log2(p);
  }
  return h;
}

const PLACEHOLDER = /^(?:\$\{.*\}|\{\{.*\}\}|<.*>|%\(?\w*\)?s|\*+|x+|\.+|#+)$|your|example|placeholder|changeme|dummy|xxxx/i;

/**
 * Random-looking: mixed-case letters and digits, 32+ hex digits, or letters, digits and 3+
 * symbols; no list, path, URL or dotted-name shape; entropy >= 3 bits per character.
 */
export function looksRandomSecret(value: string): boolean {
  if (value.length < 16 || PLACEHOLDER.test(value) || /[,:]/.test(value)) return false;
  const hex = /^[0-9a-f]{32,}$/i.test(value);
  const mixedCase = /[a-z]/.test(value) && /[A-Z]/.test(value) && /\d/.test(value);
  const symbols = /[A-Za-z]/.test(value) && /\d/.test(value) && (value.match(/[!@#$%^&*()+=]/g)?.length ?? 0) >= 3;
  if (!hex && !mixedCase && !symbols) return false; // Django-style keys mix in symbols
  if (value.includes('://') || /^[\w-]+(?:\.[\w-]+){2,}$/.test(value)) return false; // URL, dotted name
  if (/^\/|\/.*\//.test(value) && !/[+=]/.test(value)) return false; // a path, not base64
  return shannonEntropy(value) >= 3;
}

function findKeys(text: string, out: PiiEntity[]): void {
  for (const pattern of KEY_PATTERNS) {
    for (const m of text.matchAll(pattern)) {
      const value = m.groups?.value;
      const start = value === undefined ? m.index! : m.index! + m[0].lastIndexOf(value);
      out.push({ type: 'KEY', start, end: start + (value ?? m[0]).length });
    }
  }
  for (const { name, valueStart, value } of findAssignments(text, SECRET_ASSIGNMENT)) {
    if (NOT_SECRET_NAME.test(name) || !looksRandomSecret(value)) continue;
    out.push({ type: 'KEY', start: valueStart, end: valueStart + value.length });
  }
}

// ---------------------------------------------------------------------------------------------
// Passwords

/** Values that are no password: labels, versions, templates, format strings, placeholders. */
export function looksLikePassword(value: string): boolean {
  if (/\s/.test(value) || PLACEHOLDER.test(value)) return false;
  if (/^(?:password|passwd|pwd|passwort)$/i.test(value)) return false; // a label or flag name
  if (/^[\^~<>=v]*\d+(?:\.\d+)*(?:[-+.][\w.]+)?$/.test(value)) return false; // "1.2.1", "^1.0.0"
  if (/^%\w$|^\$\w+$|^\{\w*\}$|^\$\(/.test(value)) return false; // %s, $VAR, {0}, $(cmd)
  return true;
}

function findPasswords(text: string, out: PiiEntity[]): void {
  for (const { valueStart, value } of findAssignments(text, PASSWORD_ASSIGNMENT)) {
    if (!looksLikePassword(value)) continue;
    out.push({ type: 'PASSWORD', start: valueStart, end: valueStart + value.length });
  }
}

// ---------------------------------------------------------------------------------------------

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
