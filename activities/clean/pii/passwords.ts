/**
 * Passwords -> <PASSWORD>. Policy: values assigned to a name holding password/passwd/passwort/
 * pwd/pass (quoted literals in code; bare values at the end of a line in .env, YAML, INI and
 * properties files; `#define NAME "v"`), and the password of `scheme://user:password@host` URLs
 * (a raw '#' included: DSNs carry them unencoded). Not passwords:
 * values with whitespace, templates and placeholders (`${X}`, `{{x}}`, `<x>`, `%s`, `****`,
 * `changeme`), labels (`"password"`), versions (`"^1.2.0"`, package.json's `pbkdf2-password`),
 * and bare identifiers or expressions (`password = user_password`, `password: string`).
 */
import { assignmentRegex, findAssignments } from './assignments.js';
import { PLACEHOLDER } from './entropy.js';
import type { PiiEntity } from './types.js';

/** Values that stand for a password rather than being one. */
const PASSWORD_WORD = /^(?:pass(?:word|wd|wort|phrase)?|pwd|secret|admin|user(?:name)?|login|none|null|nil|true|false|undefined|empty|x-oauth-basic)$/i;

/** Values that are no password: labels, versions, templates, format strings, placeholders. */
export function looksLikePassword(value: string): boolean {
  if (/\s/.test(value) || PLACEHOLDER.test(value) || PASSWORD_WORD.test(value)) return false;
  if (/^[\^~<>=v]*\d+(?:\.\d+)*(?:[-+.][\w.]+)?$/.test(value)) return false; // "1.2.1", "^1.0.0"
  if (/^%\w$|^\$\w+$|^\{\w*\}$|^\$\(|^\$\{/.test(value)) return false; // %s, $VAR, {0}, $(cmd), ${X:-y}
  return true;
}

/**
 * A bare value that is code, not a literal: a template (`{password!r}`), a negated or
 * dereferenced name (`!pass`, `*pwd`), an identifier, a dotted name or a call without digits.
 */
function looksLikeExpression(value: string): boolean {
  if (value.startsWith('{')) return true;
  const name = /^[!&*-]?([\s\S]*)$/.exec(value)![1]!;
  return /^[A-Za-z_$][\w$.]*(?:\(\)?)?$/.test(name) && !/\d/.test(name);
}

/** `pass` only as a whole name part after a separator (`pass`, `db_pass`, `DB-PASS`; not `allPass`). */
const PASSWORD_KEYWORDS = 'password|passwd|passwort|passphrase|pwd|(?<![A-Za-z0-9])pass(?![A-Za-z0-9_])';
const PASSWORD_ASSIGNMENT = assignmentRegex(PASSWORD_KEYWORDS, `[^"'\`\\n]{1,200}`, `[^\\s"'\`,;#}()\\[\\]]{4,200}`);
/** After `scheme:` of a URL: `//user:password@host`, the password group (sticky, run at each '://'). */
const URL_USERINFO = /\/\/[^\s:/?#@"'`]{1,64}:(?<value>[^\s:/?@"'`]{1,128})@(?=[A-Za-z0-9[])/y;
const URL_SCHEME_BEFORE = /(?:^|[^A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,20}$/;

export function findPasswords(text: string, out: PiiEntity[]): void {
  for (const { name, valueStart, value, quoted } of findAssignments(text, PASSWORD_ASSIGNMENT)) {
    if (!looksLikePassword(value)) continue;
    // A bare word after an ENV_STYLE name is a .env value (DB_PASSWORD=Welcome_x); after other
    // names it is code (password = user_password), unless it holds a digit.
    const envStyle = /^[A-Z][A-Z0-9_]*$/.test(name) && /^[A-Za-z0-9_]/.test(value) && !/^[A-Z][A-Z0-9_]*$/.test(value);
    if (!quoted && !envStyle && looksLikeExpression(value)) continue;
    out.push({ type: 'PASSWORD', start: valueStart, end: valueStart + value.length });
  }
  // From each '://' (a regex starting at the scheme would try every letter of the text).
  for (let colon = text.indexOf('://'); colon !== -1; colon = text.indexOf('://', colon + 3)) {
    if (!URL_SCHEME_BEFORE.test(text.slice(Math.max(0, colon - 22), colon))) continue;
    URL_USERINFO.lastIndex = colon + 1;
    const m = URL_USERINFO.exec(text);
    if (!m || !looksLikePassword(m.groups!.value!)) continue;
    const end = colon + 1 + m[0].length - 1;
    out.push({ type: 'PASSWORD', start: end - m.groups!.value!.length, end });
  }
}
