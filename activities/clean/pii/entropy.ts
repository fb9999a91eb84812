/**
 * Is a string random enough to be a secret? Shannon entropy plus shape rules, so that words,
 * identifiers, paths, URLs, versions and placeholders next to key-like names are not taken for
 * keys. detect-secrets and gitleaks use the same idea (entropy over a charset, stop words).
 */

/** Shannon entropy in bits per character (code points). */
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

/** Values that stand for a secret rather than being one. */
export const PLACEHOLDER =
  /^(?:\$\{.*\}|\{\{.*\}\}|<.*>|%\(?\w*\)?s|\*+|x+|\.+|#+|_+|-+)$|your|example|placeholder|changeme|change_me|dummy|xxxx|redacted|sample|insert|replace/i;

/**
 * Share of the value made of word-like runs: 4+ letters with a vowel, lower case after an
 * optional capital (`Variable`, `name`), or upper case between non-letters (`TOKEN` in
 * `TEST_TOKEN_1`). Identifiers are mostly words; random strings are not.
 */
export function wordFraction(value: string): number {
  let inWords = 0;
  for (const m of value.matchAll(/[A-Z]?[a-z]{3,}|(?<![A-Za-z])[A-Z]{4,}(?![A-Za-z])/g)) {
    if (/[aeiouy]/i.test(m[0])) inWords += m[0].length;
  }
  return inWords / value.length;
}

export interface RandomSecretOptions {
  /** Shortest value taken (16 for a quoted value right after its name, 20 elsewhere). */
  minLength?: number;
  /** Entropy floor in bits per character. */
  minEntropy?: number;
}

/**
 * Random-looking: mixed-case letters and digits, 32+ hex digits, or letters, digits and 3+
 * symbols; no list, path, URL, dotted-name or placeholder shape; mostly not words; entropy at
 * least `minEntropy` (3 bits per character by default).
 */
export function looksRandomSecret(value: string, opts: RandomSecretOptions = {}): boolean {
  const minLength = opts.minLength ?? 16;
  if (value.length < minLength || PLACEHOLDER.test(value) || /[,:\s]/.test(value)) return false;
  const hex = /^[0-9a-f]{32,}$/i.test(value);
  const mixedCase = /[a-z]/.test(value) && /[A-Z]/.test(value) && /\d/.test(value);
  const symbols = /[A-Za-z]/.test(value) && /\d/.test(value) && (value.match(/[!@#$%^&*()+=]/g)?.length ?? 0) >= 3;
  if (!hex && !mixedCase && !symbols) return false; // Django-style keys mix in symbols
  if (value.includes('://') || /^[\w-]+(?:\.[\w-]+){2,}$/.test(value)) return false; // URL, dotted name
  if (/^\/|\/.*\//.test(value) && !/[+=]/.test(value)) return false; // a path, not base64
  if (!hex && wordFraction(value) > 0.5) return false; // someVariableName2, TEST_TOKEN_VALUE_1
  return shannonEntropy(value) >= (opts.minEntropy ?? 3);
}
