/**
 * Secret keys -> <KEY>. Two kinds of rules:
 * - Provider formats with a fixed prefix or shape (gitleaks' and detect-secrets' rule sets):
 *   AWS access key ids and secret keys next to an AWS name, Google API keys and OAuth client
 *   secrets, Azure storage account keys, GitHub, GitLab, Slack (tokens and webhooks), Stripe,
 *   npm, PyPI, Hugging Face, OpenAI, Anthropic, SendGrid, Twilio, Mailchimp, Shopify,
 *   DigitalOcean tokens, JWTs and PEM private key blocks. The prefixed tokens run as one
 *   combined regex (one pass); the context rules only when a cheap substring is in the text.
 * - Generic: values assigned to a name with a key-like part (`API_KEY`, `apiKey`, `x-api-key`,
 *   `client_secret`, `authToken`, `credentials`; not `monkey`, `primary_key`, `tokenizer`) or
 *   following `Bearer`/`Basic` that look random (entropy.ts): quoted values from 16
 *   characters, unquoted ones (.env, YAML) from 20 with a higher entropy floor.
 */
import { assignmentRegex, findAssignments } from './assignments.js';
import { looksRandomSecret, shannonEntropy } from './entropy.js';
import type { PiiEntity } from './types.js';

interface KeyRule {
  /**
   * Substrings one of which must occur for the rule to run (case-sensitive); none: always run.
   * A hint pays when it is one substring that is cheaper to look for than the regex is to run
   * (measured: several hints per rule cost more than the rule itself).
   */
  hints: string[];
  /** Instead of `hints`: a cheap regex that must match for the rule to run. */
  hintRegex?: RegExp;
  /** Global regex; the match, or its group `value`, is the key. Bounded quantifiers only. */
  regex: RegExp;
  /** Extra test of the value (for shapes that ordinary strings can have too). */
  check?: (value: string) => boolean;
}

/**
 * Provider tokens that carry their own prefix, one alternative each, run as ONE regex (one pass
 * over the text instead of one per provider). The character before a token is checked in code:
 * not a letter or digit (a leading lookbehind would slow every position down).
 */
const PROVIDER_TOKENS: string[] = [
  // AWS access key ids (all IAM unique-id prefixes)
  '(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[0-9A-Z]{16}(?![A-Za-z0-9])',
  // Google API keys and OAuth client secrets
  'AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])',
  'GOCSPX-[0-9A-Za-z_-]{28}(?![0-9A-Za-z_-])',
  // GitHub tokens (classic and fine-grained), GitLab personal tokens
  '(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])',
  'glpat-[0-9A-Za-z_-]{20}(?![0-9A-Za-z_-])',
  // Slack tokens
  'xox[abposre]-[A-Za-z0-9-]{10,250}',
  // Stripe secret and restricted keys
  '(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,247}(?![A-Za-z0-9_])',
  // npm access tokens, PyPI upload tokens (macaroons), Hugging Face tokens
  'npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])',
  'pypi-AgE[A-Za-z0-9_-]{50,1000}',
  'hf_[A-Za-z]{34}(?![A-Za-z0-9_])',
  // OpenAI (the T3BlbkFJ marker) and Anthropic API keys
  'sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,160}T3BlbkFJ[A-Za-z0-9_-]{20,160}(?![A-Za-z0-9_-])',
  'sk-ant-[a-z0-9]{2,10}-[A-Za-z0-9_-]{80,120}(?![A-Za-z0-9_-])',
  // SendGrid, Twilio API key sids, Shopify, DigitalOcean
  'SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])',
  'SK[0-9a-f]{32}(?![A-Za-z0-9])',
  'shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}(?![A-Za-z0-9_])',
  'do[opr]_v1_[a-f0-9]{64}(?![A-Za-z0-9_])',
  // JSON Web Tokens: base64url header and payload that both start with '{"' (eyJ), optional signature
  'eyJ[A-Za-z0-9_-]{10,4096}\\.eyJ[A-Za-z0-9_-]{10,8192}\\.(?:[A-Za-z0-9_-]{10,1024})?',
];
const PROVIDER_TOKEN = new RegExp(PROVIDER_TOKENS.join('|'), 'g');

/** Keys found by their context or shape, each with its own regex. */
export const KEY_RULES: KeyRule[] = [
  // PEM private key blocks (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP ... BLOCK); the body may be
  // split into quoted, escaped or concatenated string pieces, but holds no code.
  {
    hints: ['PRIVATE KEY'],
    regex: /-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s\\"'+,:-]{32,16384}?-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----/g,
  },
  // AWS secret access keys: 40 base64 characters within a few characters of an AWS name
  // (detect-secrets' AWSKeyDetector and gitleaks' rule take the same window).
  {
    hints: [],
    hintRegex: /aws/i,
    regex: /aws[\w.-]{0,20}?(?:secret|key|token|pass|pwd|credential)[\w.-]{0,20}["']?[ \t]*(?::=|=>|[:=,])[ \t]*["'`]?(?<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    check: (value) => /[a-z]/.test(value) && /[A-Z]/.test(value) && /\d/.test(value) && shannonEntropy(value) >= 3.5,
  },
  // Azure storage account keys (connection strings and AccountKey settings)
  { hints: ['ccountKey', 'ccount_key'], regex: /(?:AccountKey|accountKey|account_key)["']?[ \t]*[=:][ \t]*["']?(?<value>[A-Za-z0-9+/]{86}==)/g },
  // Slack incoming-webhook URLs
  { hints: ['hooks.slack.com'], regex: /https:\/\/hooks\.slack\.com\/(?:services|workflows)\/T[A-Za-z0-9_]{1,20}\/[AB][A-Za-z0-9_]{1,20}\/[A-Za-z0-9_]{1,64}/g },
  // legacy npm UUID tokens in .npmrc
  { hints: ['_authToken'], regex: /_authToken[ \t]*=[ \t]*(?<value>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/g },
];

/** Mailchimp API keys, `<32 hex>-us<dc>`: found from each '-us' (a regex from the hex would try every hex digit). */
function findMailchimpKeys(text: string, out: PiiEntity[]): void {
  for (let dash = text.indexOf('-us'); dash !== -1; dash = text.indexOf('-us', dash + 3)) {
    if (dash < 32 || !/^-us[0-9]{1,2}(?![A-Za-z0-9])/.test(text.slice(dash, dash + 6))) continue;
    if (!/(?:^|[^A-Za-z0-9])[0-9a-f]{32}$/.test(text.slice(Math.max(0, dash - 33), dash))) continue;
    out.push({ type: 'KEY', start: dash - 32, end: dash + 3 + (/[0-9]/.test(text[dash + 4] ?? '') ? 2 : 1) });
  }
}

/** Names with key/secret/token that do not hold secrets. */
const NOT_SECRET_NAME =
  /(?:primary|foreign|sort|partition|cache|row|hash|public|pub|i18n|translation|unique|map|dict|object|lookup|index|registry|event|storage|local_?storage|react|list|group|route)_?key|keys?_?(?:name|id|path|file|type|size|length|prefix|field|code|format|alg|algorithm|usage|spec|bits)|tokeni[sz]er|tokens?_?(?:type|name|url|endpoint|uri|path|count|limit|len|length|kind|index|id|usage|ttl|expir)|auth_?(?:url|uri|endpoint|type|method|mode|provider|header|scheme|domain|path|user|name)|credentials?_?(?:file|path|provider|type|source|url|id)/i;

const KEY_KEYWORDS = 'key|secret|token|auth|credential|creds';
/** Quoted: no whitespace, quotes or backslashes (a value, not a sentence or an escaped string). */
const SECRET_ASSIGNMENT = assignmentRegex(KEY_KEYWORDS, `[^"'\`\\s\\\\]{16,256}`, `[A-Za-z0-9+/=_.~-]{20,256}`);
/** HTTP authorization schemes with their credential. */
const AUTH_SCHEME = /(?<![A-Za-z])(?:Bearer|Basic|token)[ \t]+(?<value>[A-Za-z0-9._~+/-]{20,2048}=*)(?![A-Za-z0-9._~+/=-])/g;

export function findKeys(text: string, out: PiiEntity[]): void {
  for (const m of text.matchAll(PROVIDER_TOKEN)) {
    if (m.index! > 0 && /[A-Za-z0-9]/.test(text[m.index! - 1]!)) continue;
    out.push({ type: 'KEY', start: m.index!, end: m.index! + m[0].length });
  }
  for (const rule of KEY_RULES) {
    const runs = rule.hintRegex ? rule.hintRegex.test(text) : rule.hints.length === 0 || rule.hints.some((hint) => text.includes(hint));
    if (!runs) continue;
    rule.regex.lastIndex = 0;
    for (const m of text.matchAll(rule.regex)) {
      const value = m.groups?.value;
      if (rule.check && !rule.check(value ?? m[0])) continue;
      const start = value === undefined ? m.index! : m.index! + m[0].length - value.length;
      out.push({ type: 'KEY', start, end: start + (value ?? m[0]).length });
    }
  }
  findMailchimpKeys(text, out);
  for (const { name, valueStart, value, quoted } of findAssignments(text, SECRET_ASSIGNMENT)) {
    if (NOT_SECRET_NAME.test(name)) continue;
    const random = quoted ? looksRandomSecret(value) : looksRandomSecret(value, { minLength: 20, minEntropy: 3.5 });
    if (random) out.push({ type: 'KEY', start: valueStart, end: valueStart + value.length });
  }
  for (const m of text.matchAll(AUTH_SCHEME)) {
    const value = m.groups!.value!;
    if (!looksRandomSecret(value, { minLength: 20 })) continue;
    const start = m.index! + m[0].length - value.length;
    out.push({ type: 'KEY', start, end: start + value.length });
  }
}
