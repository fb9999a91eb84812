/**
 * E-mail addresses -> <EMAIL>. Policy: an address is a local part, '@', and a domain of labels
 * ending in a letters-only top-level label. Not addresses: a last label that is a file
 * extension (`icon@2x.png`, `a@b.min.js`), `pkg@1.2.3`, `@decorators`, `user@localhost`, and
 * scp-style remotes (`git@host:owner/repo`, `user@host:path`: a ':' and a path right after), and the `user:password@host` userinfo of URLs (passwords.ts
 * takes the password). Addresses in license headers are redacted too.
 */
import type { PiiEntity } from './types.js';

/** Characters of an address's local part (before '@'). */
const EMAIL_LOCAL_CHAR = /[\w.%+-]/;
/** The domain after '@', anchored there: labels, then a letters-only top-level label. */
const EMAIL_DOMAIN = /(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w-]|\.[A-Za-z0-9])/y;

/**
 * Last labels that are file extensions, not top-level domains (`logo@2x.png`, `a@b.min.js`).
 * Extensions that are also country domains in use for mail (.rs, .pl, .py, .md) are left out.
 */
const FILE_EXTENSIONS = new Set(
  ('png jpg jpeg gif svg webp ico bmp tif tiff avif heic psd js mjs cjs jsx ts tsx css scss sass less ' +
    'html htm xml json yaml yml toml ini cfg conf rst txt csv tsv log lock map pyc rb go java ' +
    'kt scala swift php lua vue svelte woff woff2 ttf otf eot mp3 mp4 wav ogg webm avi mov pdf zip ' +
    'gz tgz bz2 xz tar jar wasm exe dll dylib bin dat').split(' '),
);

/** Right before the local part: `scheme://` or `scheme://user:` (URL userinfo, not a mailbox). */
const URL_USERINFO_BEFORE = /[A-Za-z][\w+.-]*:\/\/(?:[^\s/@:"'`]*:)?$/;

function isAsciiAlnum(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9]/.test(ch);
}

/** Scans from each '@': the local part backwards, the domain forwards (fast on large files). */
export function findEmails(text: string, out: PiiEntity[]): void {
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && at - start <= 64 && EMAIL_LOCAL_CHAR.test(text[start - 1]!)) start--;
    while (start < at && !isAsciiAlnum(text[start])) start++; // `.x@`, `-x@`, `_x@`
    if (start === at || at - start > 64) continue; // `@x`
    EMAIL_DOMAIN.lastIndex = at + 1;
    const m = EMAIL_DOMAIN.exec(text);
    if (!m) continue;
    const end = at + 1 + m[0].length;
    if (FILE_EXTENSIONS.has(m[1]!.toLowerCase())) continue;
    if (text[end] === ':' && /[\w~./-]/.test(text[end + 1] ?? '')) continue; // git@github.com:owner/repo.git, user@host:path
    if (URL_USERINFO_BEFORE.test(text.slice(Math.max(0, start - 80), start))) continue; // scheme://user:password@host
    out.push({ type: 'EMAIL', start, end });
    at = end - 1;
  }
}
