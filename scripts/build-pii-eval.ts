/**
 * Builds the labelled PII evaluation set in data/pii-eval/ (see its README.md for the method).
 *
 *   npx tsx scripts/build-pii-eval.ts [--sample <stack-sample dir>]
 *
 * 1. Real files: a seeded sample of The Stack sample's files (<= 12 KB), spread over languages,
 *    two thirds from files holding '@', a dotted quad or key/token/password/secret, one third
 *    from all files.
 * 2. Candidates: broad regexes (NOT the detectors of activities/clean) list every string that
 *    might be PII. Each candidate must have a reviewer's decision in review.jsonl (a person
 *    decided; the script only applies decisions). Undecided candidates are written to
 *    pending.jsonl and the script stops with exit code 1.
 * 3. Planted documents: copies of small sampled real files with synthetic, realistic values
 *    inserted at line starts (string literals, comments, config lines), plus planted decoys that
 *    the redaction policy keeps (private and DNS addresses, versions, placeholders, hashes).
 * 4. eval.jsonl: one document per line {id, kind, source, text, labels: [{type,start,end,value}]}.
 *
 * Deterministic: the same inputs, seed and review.jsonl give the same files.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mulberry32 } from '../lib/random.js';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PII_TYPES, type PiiType } from '../activities/clean/pii/types.js';
import { readParquetTable } from '../lib/parquet.js';
import { tableToRows } from '../lib/stackSchema.js';

const OUT_DIR = join(import.meta.dirname, '..', 'data', 'pii-eval');
const SEED = 20261128;
const MAX_FILE_BYTES = 12_000;
const INTERESTING_FILES = 200;
const RANDOM_FILES = 100;
const PLANTED_DOCS = 160;
const MAX_HOST_BYTES = 4_000;

type LabelType = PiiType;
export interface Label {
  type: LabelType;
  start: number;
  end: number;
  value: string;
  /** Planted labels: what was planted (`github-token`, `ipv6`, `url-password` ...). */
  detail?: string;
}
interface Source {
  repo: string;
  path: string;
  lang: string;
  licenses: string[];
  hexsha: string;
}
export interface EvalDoc {
  id: string;
  kind: 'real' | 'planted';
  source: Source;
  /** For planted documents: the real document the values were inserted into. */
  host?: string;
  text: string;
  labels: Label[];
}
interface Candidate {
  doc: string;
  type: LabelType;
  start: number;
  end: number;
  value: string;
}
interface Decision extends Candidate {
  /** "pii": label it (as `label_type` when set, over `label_start..label_end` when set). */
  decision: 'pii' | 'not';
  reason: string;
  label_type?: LabelType;
  label_start?: number;
  label_end?: number;
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32)

const rng = mulberry32;
const random = rng(SEED);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
const chars = (alphabet: string, n: number): string => Array.from({ length: n }, () => pick([...alphabet])).join('');
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const HEX = '0123456789abcdef';
const ALNUM = UPPER + LOWER + DIGITS;
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';

// ---------------------------------------------------------------------------------------------
// 1. Real files

interface RealFile {
  source: Source;
  text: string;
}

function loadFiles(sampleDir: string): RealFile[] {
  const files: RealFile[] = [];
  const dataDir = join(sampleDir, 'data');
  for (const lang of readdirSync(dataDir).sort()) {
    for (const name of readdirSync(join(dataDir, lang)).sort()) {
      const path = join(dataDir, lang, name);
      for (const row of tableToRows(readParquetTable(readFileSync(path), path))) {
        const text = row.content ?? '';
        if (text.length === 0 || Buffer.byteLength(text) > MAX_FILE_BYTES) continue;
        files.push({
          source: {
            repo: row.max_stars_repo_name ?? '',
            path: row.max_stars_repo_path ?? '',
            lang: row.lang ?? '',
            licenses: [...(row.max_stars_repo_licenses ?? [])],
            hexsha: row.hexsha ?? '',
          },
          text,
        });
      }
    }
  }
  return files;
}

const INTERESTING = /@|\d+\.\d+\.\d+\.\d+|key|token|password|passwd|secret/i;

/** Round-robin over languages (each shuffled), so that the sample spreads across them. */
function spreadPick(files: RealFile[], n: number, taken: Set<string>): RealFile[] {
  const byLang = new Map<string, RealFile[]>();
  for (const f of files) {
    if (taken.has(f.source.hexsha)) continue;
    const list = byLang.get(f.source.lang) ?? [];
    list.push(f);
    byLang.set(f.source.lang, list);
  }
  const queues = [...byLang.keys()].sort().map((lang) => shuffle(byLang.get(lang)!));
  const out: RealFile[] = [];
  while (out.length < n && queues.some((q) => q.length > 0)) {
    for (const q of queues) {
      const f = q.pop();
      if (!f || taken.has(f.source.hexsha) || out.length >= n) continue;
      taken.add(f.source.hexsha);
      out.push(f);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 2. Candidates: broad on purpose; a reviewer sorts them

const CANDIDATE_PATTERNS: { type: LabelType; regex: RegExp; keep?: (value: string) => boolean }[] = [
  { type: 'EMAIL', regex: /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g },
  { type: 'IP_ADDRESS', regex: /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d])/g },
  {
    type: 'IP_ADDRESS',
    regex: /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])/g,
    keep: (v) => /\d/.test(v) && isIPv6(v),
  },
  { type: 'KEY', regex: /-----BEGIN[ A-Z0-9]*PRIVATE KEY-----/g },
  {
    type: 'KEY',
    regex: /[A-Za-z0-9+/_=.~-]{20,}/g,
    keep: (v) => /[A-Za-z]/.test(v) && /\d/.test(v) && entropy(v) >= 3.5 && !/^[\w.-]*\/[\w.-]+\/[\w./-]*$/.test(v),
  },
  { type: 'PASSWORD', regex: /(?:pass|pwd)\w*["']?\]?\s*(?:[:=]+|=>)\s*["'`]?([^\s"'`,;)]+)/gi },
  { type: 'PASSWORD', regex: /:\/\/[^\s/:@"']+:([^\s/@"']+)@/g },
];

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / s.length) * Math.log2(c / s.length);
  return h;
}

function candidates(doc: string, text: string): Candidate[] {
  const out: Candidate[] = [];
  for (const { type, regex, keep } of CANDIDATE_PATTERNS) {
    for (const m of text.matchAll(regex)) {
      const value = m[1] ?? m[0];
      const start = m.index! + m[0].lastIndexOf(value);
      if (keep && !keep(value)) continue;
      out.push({ doc, type, start, end: start + value.length, value });
    }
  }
  return out;
}

const candidateKey = (c: { doc: string; type: string; start: number; end: number }): string => `${c.doc}|${c.type}|${c.start}|${c.end}`;

// ---------------------------------------------------------------------------------------------
// 3. Planted values and decoys

const FIRST = ['maria', 'john', 'wei', 'aisha', 'lars', 'priya', 'diego', 'yuki', 'olga', 'kwame', 'fatima', 'noah', 'elena', 'tom'];
const LAST = ['garcia', 'smith', 'zhang', 'okafor', 'nielsen', 'sharma', 'rossi', 'tanaka', 'ivanova', 'mensah', 'haddad', 'brown'];
const MAIL_DOMAINS = ['gmail.com', 'outlook.com', 'yahoo.co.jp', 'protonmail.ch', 'acme-widgets.com', 'cs.uni-tuebingen.de', 'mail.northwind.io', 'fastmail.fm', 'contoso.org', 'posteo.net'];

function plantEmail(): string {
  const f = pick(FIRST);
  const l = pick(LAST);
  const local = pick([`${f}.${l}`, `${f[0]}${l}`, `${f}_${l}${int(100)}`, `${f}+dev`, `${l}.${f}${int(10)}`]);
  return `${local}@${pick(MAIL_DOMAINS)}`;
}

/** First octets inside plainly global unicast space (no private, CGNAT, reserved or multicast). */
const PUBLIC_FIRST_OCTETS = [23, 31, 37, 45, 52, 54, 62, 77, 81, 88, 91, 95, 104, 109, 138, 145, 151, 176, 185, 188, 195, 212, 213, 217];
function plantIPv4(): string {
  return `${pick(PUBLIC_FIRST_OCTETS)}.${int(256)}.${int(256)}.${1 + int(254)}`;
}
function plantIPv6(): string {
  const g = (): string => chars(HEX, 1 + int(4)).replace(/^0+(?=.)/, '');
  const prefix = pick(['2a01', '2a02', '2a03', '2604', '2607', '2800', '2c0f', '2406']);
  return random() < 0.5 ? `${prefix}:${g()}:${g()}:${g()}::${g()}` : `${prefix}:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}`;
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}
function plantPem(): string {
  const kind = pick(['RSA ', 'EC ', '', 'OPENSSH ']);
  const lines = Array.from({ length: 4 + int(8) }, () => chars(B64, 64));
  return `-----BEGIN ${kind}PRIVATE KEY-----\n${lines.join('\n')}\n${chars(B64, 20)}==\n-----END ${kind}PRIVATE KEY-----`;
}

/** Each key type with a code line that holds it; the key is the part between the markers. */
const KEY_KINDS: { name: string; make: () => string; names: string[] }[] = [
  { name: 'aws-access-key-id', make: () => 'AKIA' + chars(UPPER + '234567', 16), names: ['AWS_ACCESS_KEY_ID', 'aws_access_key_id', 'accessKeyId'] },
  { name: 'aws-secret-key', make: () => chars(B64, 40), names: ['AWS_SECRET_ACCESS_KEY', 'aws_secret_access_key', 'awsSecretKey'] },
  { name: 'gcp-api-key', make: () => 'AIza' + chars(ALNUM + '-_', 35), names: ['GOOGLE_API_KEY', 'mapsApiKey', 'key'] },
  { name: 'azure-storage-key', make: () => chars(B64, 86) + '==', names: ['AccountKey'] },
  { name: 'github-token', make: () => pick(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']) + chars(ALNUM, 36), names: ['GITHUB_TOKEN', 'gh_token', 'token'] },
  { name: 'github-pat', make: () => 'github_pat_' + chars(ALNUM, 22) + '_' + chars(ALNUM, 59), names: ['GITHUB_PAT', 'ghToken'] },
  { name: 'slack-token', make: () => `xox${pick(['b', 'a', 'p', 'r', 's'])}-${chars(DIGITS, 12)}-${chars(DIGITS, 13)}-${chars(ALNUM, 24)}`, names: ['SLACK_BOT_TOKEN', 'slack_token'] },
  { name: 'slack-webhook', make: () => `https://hooks.slack.com/services/T${chars(UPPER + DIGITS, 8)}/B${chars(UPPER + DIGITS, 10)}/${chars(ALNUM, 24)}`, names: ['SLACK_WEBHOOK_URL', 'webhook'] },
  { name: 'stripe', make: () => pick(['sk_live_', 'rk_live_']) + chars(ALNUM, 24 + int(76)), names: ['STRIPE_SECRET_KEY', 'stripe.api_key', 'stripeKey'] },
  { name: 'npm', make: () => 'npm_' + chars(ALNUM, 36), names: ['NPM_TOKEN', 'npmToken'] },
  {
    name: 'jwt',
    make: () =>
      `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: String(100000 + int(900000)), name: `${pick(FIRST)} ${pick(LAST)}`, iat: 1700000000 + int(9999999) }))}.${chars(B64URL, 43)}`,
    names: ['JWT', 'id_token', 'authToken'],
  },
  { name: 'private-key', make: plantPem, names: ['PRIVATE_KEY', 'privateKey'] },
  { name: 'generic-secret', make: () => chars(ALNUM, 24 + int(20)), names: ['API_KEY', 'apiKey', 'client_secret', 'SECRET_KEY', 'access_token', 'auth_token', 'credentials', 'apikey', 'x-api-key'] },
  { name: 'generic-hex', make: () => chars(HEX, pick([32, 40, 64])), names: ['api_secret', 'APP_SECRET', 'accessKey', 'token'] },
];

const PASSWORD_NAMES = ['password', 'DB_PASSWORD', 'passwd', 'pwd', 'adminPassword', 'smtp_password', 'MYSQL_ROOT_PASSWORD'];
function plantPassword(): string {
  const word = pick(['summer', 'dragon', 'Monkey', 'sunshine', 'Tr0ub4dor', 'letmein', 'Welcome', 'qwerty', 'Falcon', 'orange']);
  return pick([
    `${word}${int(10000)}${pick(['!', '#', '$', ''])}`,
    chars(ALNUM + '!@#$%^&*', 10 + int(8)),
    `${pick(FIRST)}-${pick(LAST)}-${int(100)}`,
    `${word}_${pick(['2019', '2023', '42', 'x'])}`,
  ]);
}

type Style = 'py' | 'js' | 'go' | 'c' | 'java' | 'sh' | 'yaml' | 'json' | 'text';
function styleOf(lang: string): Style {
  const l = lang.toLowerCase();
  if (['python', 'cmake', 'perl', 'toml', 'ini', 'nu', 'powershell'].includes(l)) return 'py';
  if (['javascript', 'typescript', 'jsx', 'coffeescript', 'php', 'json5'].includes(l)) return 'js';
  if (l === 'go') return 'go';
  if (['c', 'c++', 'rust', 'protocol-buffer', 'css', 'scss', 'less', 'logos'].includes(l)) return 'c';
  if (['java'].includes(l)) return 'java';
  if (['shell', 'fish', 'batchfile', 'dockerfile', 'makefile', 'm4'].includes(l)) return 'sh';
  if (['yaml'].includes(l)) return 'yaml';
  if (['json', 'jsonld'].includes(l)) return 'json';
  return 'text';
}

/** A code line holding `value` assigned to `name`, in the host's style (or a config style). */
function assignLine(style: Style, name: string, value: string): string {
  switch (style) {
    case 'py':
      return pick([`${name} = "${value}"`, `${name} = '${value}'`, `settings["${name}"] = "${value}"`, `client = Client(${name.toLowerCase()}="${value}")`]);
    case 'js':
      return pick([`const ${name.replace(/[.-]/g, '_')} = '${value}';`, `  ${name.replace(/[.-]/g, '_')}: "${value}",`, `process.env.${name.replace(/[.-]/g, '_')} = \`${value}\`;`]);
    case 'go':
      return pick([`\t${name.replace(/[.-]/g, '_')} := "${value}"`, `const ${name.replace(/[.-]/g, '_')} = "${value}"`]);
    case 'c':
      return pick([`static const char *${name.replace(/[.-]/g, '_')} = "${value}";`, `#define ${name.replace(/[.-]/g, '_').toUpperCase()} "${value}"`]);
    case 'java':
      return `    private static final String ${name.replace(/[.-]/g, '_')} = "${value}";`;
    case 'sh':
      return pick([`export ${name.replace(/[.-]/g, '_').toUpperCase()}="${value}"`, `${name.replace(/[.-]/g, '_').toUpperCase()}=${value}`]);
    case 'yaml':
      return pick([`${name}: ${value}`, `  ${name}: "${value}"`]);
    case 'json':
      return `  "${name}": "${value}",`;
    case 'text':
      return pick([`${name}=${value}`, `${name}: ${value}`, `    ${name} = "${value}"`]);
  }
}

function commentLine(style: Style, body: string): string {
  switch (style) {
    case 'py':
    case 'sh':
    case 'yaml':
      return `# ${body}`;
    case 'js':
    case 'go':
    case 'java':
    case 'c':
      return pick([`// ${body}`, `/* ${body} */`, ` * ${body}`]);
    case 'json':
      return `  "_comment": "${body}",`;
    case 'text':
      return body;
  }
}

interface Plant {
  line: string;
  labels: { type: LabelType; value: string; detail: string }[];
}

function plantSnippet(style: Style): Plant {
  const roll = random();
  if (roll < 0.22) {
    const email = plantEmail();
    const line = pick([
      commentLine(style, `Author: ${pick(FIRST)} ${pick(LAST)} <${email}>`),
      commentLine(style, `Questions? Write to ${email}.`),
      assignLine(style, pick(['MAINTAINER_EMAIL', 'contact', 'from_addr', 'reply_to']), email),
      assignLine(style, 'mailto', `mailto:${email}`),
    ]);
    return { line, labels: [{ type: 'EMAIL', value: email, detail: 'email' }] };
  }
  if (roll < 0.4) {
    const ip = random() < 0.7 ? plantIPv4() : plantIPv6();
    const port = 1024 + int(60000);
    const shown = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
    const line = pick([
      assignLine(style, pick(['SERVER_IP', 'host', 'upstream_addr', 'db_host', 'remote']), ip),
      assignLine(style, 'endpoint', `http://${shown}/api/v1`),
      commentLine(style, `the old box at ${ip} still answers on port ${port}`),
      commentLine(style, `blocked ${ip} after the 2023-04 incident`),
    ]);
    return { line, labels: [{ type: 'IP_ADDRESS', value: ip, detail: ip.includes(':') ? 'ipv6' : 'ipv4' }] };
  }
  if (roll < 0.8) {
    const kind = pick(KEY_KINDS);
    const key = kind.make();
    const name = pick(kind.names);
    let line: string;
    if (kind.name === 'azure-storage-key') {
      line = assignLine(style, 'AZURE_STORAGE_CONNECTION_STRING', `DefaultEndpointsProtocol=https;AccountName=${pick(LAST)}store;AccountKey=${key};EndpointSuffix=core.windows.net`);
    } else if (kind.name === 'private-key') {
      line = style === 'py' ? `${name} = """${key}"""` : style === 'js' || style === 'text' ? `const ${name} = \`${key}\`;` : key;
    } else if (kind.name === 'jwt' && random() < 0.5) {
      line = assignLine(style, 'headers_authorization', `Bearer ${key}`);
    } else if (kind.name === 'aws-secret-key' && random() < 0.3) {
      line = commentLine(style, `aws_secret_access_key=${key}`);
    } else {
      line = assignLine(style, name, key);
    }
    return { line, labels: [{ type: 'KEY', value: key, detail: kind.name }] };
  }
  const password = plantPassword();
  const inUrl = random() < 0.25;
  const line =
    inUrl
      ? assignLine(style, pick(['DATABASE_URL', 'broker_url', 'dsn']), `${pick(['postgres', 'mysql', 'amqp', 'redis', 'mongodb'])}://${pick(FIRST)}:${password}@db-${int(9)}.${pick(LAST)}-prod.net:5432/app`)
      : assignLine(style, pick(PASSWORD_NAMES), password);
  return { line, labels: [{ type: 'PASSWORD', value: password, detail: inUrl ? 'url-password' : 'assigned-password' }] };
}

/** Values the redaction policy keeps: in the set unlabelled, so a detection of one is a false positive. */
function plantDecoy(style: Style): string {
  return pick([
    assignLine(style, 'host', pick([`10.${int(256)}.${int(256)}.${1 + int(254)}`, `192.168.${int(256)}.${1 + int(254)}`, `172.${16 + int(16)}.${int(256)}.${1 + int(254)}`])),
    assignLine(style, 'bind_addr', '127.0.0.1'),
    commentLine(style, `resolvers: ${pick(['8.8.8.8', '1.1.1.1', '9.9.9.9', '8.8.4.4'])}`),
    assignLine(style, 'VERSION', `${int(10)}.${int(10)}.${int(10)}.${int(10)}`),
    assignLine(style, 'api_key', pick(['your-api-key-here', '<API_KEY>', '${API_KEY}', 'xxxxxxxxxxxxxxxxxxxx'])),
    assignLine(style, 'password', pick(['${DB_PASSWORD}', '<password>', '********', 'changeme'])),
    assignLine(style, 'sha256', chars(HEX, 64)),
    assignLine(style, 'request_id', `${chars(HEX, 8)}-${chars(HEX, 4)}-4${chars(HEX, 3)}-a${chars(HEX, 3)}-${chars(HEX, 12)}`),
    commentLine(style, `clone with git@github.com:${pick(LAST)}/${pick(['tools', 'infra', 'web'])}.git`),
    commentLine(style, `icons: logo@2x.png, logo@3x.png`),
    assignLine(style, 'primary_key', 'user_id'),
    assignLine(style, 'token_type', 'Bearer'),
  ]);
}

/** Inserts 1-3 snippets and maybe a decoy at random line starts of `host`; labels shifted. */
function plant(host: EvalDoc, id: string): EvalDoc {
  const style = random() < 0.25 ? pick<Style>(['sh', 'yaml', 'json', 'text']) : styleOf(host.source.lang);
  const inserts: Plant[] = [];
  for (let i = 1 + int(3); i > 0; i--) inserts.push(plantSnippet(style));
  if (random() < 0.6) inserts.push({ line: plantDecoy(style), labels: [] });
  const lineStarts = [0];
  for (let i = host.text.indexOf('\n'); i !== -1; i = host.text.indexOf('\n', i + 1)) if (i + 1 < host.text.length) lineStarts.push(i + 1);
  const free = lineStarts.filter((p) => !host.labels.some((l) => l.start < p && p < l.end)); // never split a PEM block
  const positions = inserts.map(() => pick(free)).sort((a, b) => a - b);
  let text = '';
  let from = 0;
  const labels: Label[] = [];
  const shiftHost = (upTo: number): void => {
    for (const l of host.labels) if (l.start >= from && l.start < upTo) labels.push({ ...l, start: l.start - from + text.length, end: l.end - from + text.length });
  };
  positions.forEach((pos, i) => {
    shiftHost(pos);
    text += host.text.slice(from, pos);
    from = pos;
    const { line, labels: planted } = inserts[i]!;
    let searchFrom = 0;
    for (const p of planted) {
      const at = line.indexOf(p.value, searchFrom);
      if (at === -1) throw new Error(`planted value missing from its line: ${line}`);
      labels.push({ type: p.type, start: text.length + at, end: text.length + at + p.value.length, value: p.value, detail: p.detail });
      searchFrom = at + p.value.length;
    }
    text += line + '\n';
  });
  shiftHost(host.text.length + 1);
  text += host.text.slice(from);
  return { id, kind: 'planted', source: host.source, host: host.id, text, labels: labels.sort((a, b) => a.start - b.start) };
}

// ---------------------------------------------------------------------------------------------

function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
const toJsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');

function main(): number {
  const { values } = parseArgs({ options: { sample: { type: 'string', default: fileURLToPath(new URL('../../shared/data/stack-sample', import.meta.url)) } } });
  const all = loadFiles(values.sample!);
  const taken = new Set<string>();
  const interesting = spreadPick(all.filter((f) => INTERESTING.test(f.text)), INTERESTING_FILES, taken);
  const anyFile = spreadPick(all, RANDOM_FILES, taken);
  const real = [...interesting, ...anyFile].map((f, i) => ({ id: `real-${String(i).padStart(3, '0')}`, ...f }));

  const decisions = new Map(readJsonl<Decision>(join(OUT_DIR, 'review.jsonl')).map((d) => [candidateKey(d), d]));
  const pending: (Candidate & { context: string })[] = [];
  const docs: EvalDoc[] = [];
  const used = new Set<string>();
  for (const f of real) {
    const labels: Label[] = [];
    for (const c of candidates(f.id, f.text)) {
      const d = decisions.get(candidateKey(c));
      if (!d) {
        pending.push({ ...c, context: f.text.slice(Math.max(0, c.start - 80), c.end + 80) });
        continue;
      }
      used.add(candidateKey(c));
      if (d.decision !== 'pii') continue;
      const start = d.label_start ?? c.start;
      const end = d.label_end ?? c.end;
      const type = d.label_type ?? c.type;
      if (labels.some((l) => l.start < end && start < l.end)) continue; // one label per span (e.g. a key that is also a password candidate)
      labels.push({ type, start, end, value: f.text.slice(start, end) });
    }
    docs.push({ id: f.id, kind: 'real', source: f.source, text: f.text, labels: labels.sort((a, b) => a.start - b.start) });
  }
  if (pending.length > 0) {
    writeFileSync(join(OUT_DIR, 'pending.jsonl'), toJsonl(pending));
    process.stderr.write(`${pending.length} candidates have no decision in review.jsonl; listed in data/pii-eval/pending.jsonl\n`);
    return 1;
  }
  const stale = [...decisions.keys()].filter((k) => !used.has(k));
  if (stale.length > 0) process.stderr.write(`warning: ${stale.length} decisions in review.jsonl match no candidate\n`);

  const hosts = docs.filter((d) => Buffer.byteLength(d.text) <= MAX_HOST_BYTES);
  for (let i = 0; i < PLANTED_DOCS; i++) docs.push(plant(pick(hosts), `planted-${String(i).padStart(3, '0')}`));
  for (const d of docs) for (const l of d.labels) if (d.text.slice(l.start, l.end) !== l.value) throw new Error(`label of ${d.id} does not match its text: ${l.value}`);

  writeFileSync(join(OUT_DIR, 'eval.jsonl'), toJsonl(docs));
  const count = (kind: string, type: string): number => docs.filter((d) => d.kind === kind).reduce((n, d) => n + d.labels.filter((l) => l.type === type).length, 0);
  const summary = PII_TYPES.map((t) => `${t}: ${count('real', t)} real + ${count('planted', t)} planted`).join(', ');
  process.stdout.write(`${docs.length} documents (${real.length} real, ${PLANTED_DOCS} planted); labels ${summary}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
