/**
 * The document a clean filter looks at, and its statistics computed exactly as The Stack computes
 * them in Python: `content.splitlines()`, `len()` in code points, `str.isalnum()` and
 * `str.isalpha()` per code point. One pass over the UTF-16 code units gives every count.
 */

export interface LineStats {
  /** Mean of len(line) over content.splitlines(); 0 when there is no line. */
  avgLineLength: number;
  /** Max of len(line) over content.splitlines(); 0 when there is no line. */
  maxLineLength: number;
  /** Share of code points with str.isalnum(); 0 for empty content. */
  alphanumFraction: number;
}

/** LineStats plus the counts the other filters need, from the same single pass. */
export interface DocStats extends LineStats {
  /** len(content) in code points. */
  chars: number;
  /** Code points that are spaces, tabs or line breaks. */
  whitespace: number;
}

export interface CleanDoc {
  content: string;
  stats: DocStats;
  /** Repository path, extension (lower case, no dot) and The Stack language, when known. */
  path?: string;
  ext?: string;
  lang?: string;
  /** UTF-8 size of content, when known. */
  bytes?: number;
}

// Python semantics

/** Line boundaries of Python's str.splitlines (\r\n counts as one). */
export function isLineBoundary(code: number): boolean {
  return (
    code === 0x0a || code === 0x0d || code === 0x0b || code === 0x0c ||
    code === 0x1c || code === 0x1d || code === 0x1e || code === 0x85 ||
    code === 0x2028 || code === 0x2029
  );
}

/** Python's `text.splitlines()[:limit]`. */
export function firstLines(text: string, limit = Infinity): string[] {
  const lines: string[] = [];
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n && lines.length < limit; i++) {
    const c = text.charCodeAt(i);
    if (!isLineBoundary(c)) continue;
    lines.push(text.slice(start, i));
    if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) i++;
    start = i + 1;
  }
  if (start < n && lines.length < limit) lines.push(text.slice(start));
  return lines;
}

/** Python's `text.splitlines()`. */
export function splitlines(text: string): string[] {
  return firstLines(text);
}

/** 1 for every BMP code unit (surrogates excepted) that `pattern` matches, computed once. */
function bmpTable(pattern: RegExp): Uint8Array {
  const table = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (pattern.test(String.fromCharCode(c))) table[c] = 1;
  }
  return table;
}

const ALNUM_PATTERN = /^[\p{L}\p{N}]$/u;
/** isalnum for every BMP code unit (\p{L} = isalpha, \p{N} = isnumeric). */
const BMP_ALNUM = bmpTable(ALNUM_PATTERN);

/** Python's str.isalnum() for one code point. */
export function isAlnumCodePoint(cp: number): boolean {
  if (cp < 0x10000) return BMP_ALNUM[cp] === 1;
  return ALNUM_PATTERN.test(String.fromCodePoint(cp));
}

const ALPHA_PATTERN = /^\p{L}$/u;
/** isalpha for every BMP code unit (Python: categories Lm, Lt, Lu, Ll, Lo = \p{L}). */
const BMP_ALPHA = bmpTable(ALPHA_PATTERN);

/** Share of code points with str.isalpha(); 0 for empty content. */
export function alphabeticFraction(content: string): number {
  const n = content.length;
  let codePoints = 0;
  let alpha = 0;
  for (let i = 0; i < n; i++) {
    const c = content.charCodeAt(i);
    codePoints++;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = content.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        if (ALPHA_PATTERN.test(String.fromCodePoint(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000))) alpha++;
        continue;
      }
    }
    if (BMP_ALPHA[c] === 1) alpha++;
  }
  return codePoints === 0 ? 0 : alpha / codePoints;
}

/** avg_line_length, max_line_length and alphanum_fraction of `content`. */
export function computeLineStats(content: string): LineStats {
  const s = computeDocStats(content);
  return { avgLineLength: s.avgLineLength, maxLineLength: s.maxLineLength, alphanumFraction: s.alphanumFraction };
}

/** Per BMP code unit: 1 = alphanumeric, 2 = line boundary, 4 = space or tab (one lookup per character). */
const CHAR_CLASS = (() => {
  const table = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    if (BMP_ALNUM[c] === 1) table[c]! |= 1;
    if (isLineBoundary(c)) table[c]! |= 2;
    if (c === 0x20 || c === 0x09) table[c]! |= 4;
  }
  return table;
})();

/** Every statistic of DocStats, in one pass over the UTF-16 code units. */
export function computeDocStats(content: string): DocStats {
  const n = content.length;
  let codePoints = 0;
  let alnum = 0;
  let whitespace = 0;
  let lines = 0;
  let lineSum = 0;
  let lineMax = 0;
  let lineLen = 0; // code points in the current line
  let lineOpen = false; // the current line has at least one character
  for (let i = 0; i < n; i++) {
    const c = content.charCodeAt(i);
    codePoints++;
    let cls: number;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && content.charCodeAt(i + 1) >= 0xdc00 && content.charCodeAt(i + 1) <= 0xdfff) {
      // An astral code point: never a line boundary or a space.
      cls = isAlnumCodePoint(((c - 0xd800) << 10) + (content.charCodeAt(i + 1) - 0xdc00) + 0x10000) ? 1 : 0;
      i++;
    } else {
      cls = CHAR_CLASS[c]!;
    }
    alnum += cls & 1;
    if ((cls & 2) !== 0) {
      whitespace++;
      lines++;
      lineSum += lineLen;
      if (lineLen > lineMax) lineMax = lineLen;
      lineLen = 0;
      lineOpen = false;
      if (c === 0x0d && content.charCodeAt(i + 1) === 0x0a) {
        i++;
        codePoints++; // the \n of \r\n is a character of the content too
        whitespace++;
      }
      continue;
    }
    if ((cls & 4) !== 0) whitespace++;
    lineLen++;
    lineOpen = true;
  }
  if (lineOpen) {
    lines++;
    lineSum += lineLen;
    if (lineLen > lineMax) lineMax = lineLen;
  }
  return {
    avgLineLength: lines === 0 ? 0 : lineSum / lines,
    maxLineLength: lineMax,
    alphanumFraction: codePoints === 0 ? 0 : alnum / codePoints,
    chars: codePoints,
    whitespace,
  };
}

export function toCleanDoc(content: string, meta: { path?: string; ext?: string; lang?: string; bytes?: number } = {}): CleanDoc {
  const ext = meta.ext ?? extensionOf(meta.path ?? '');
  return { content, stats: computeDocStats(content), ...meta, ext: ext.toLowerCase() };
}

/** Extension of a path without the dot, as The Stack's `ext` (`a/b.min.js` -> `js`; none -> ''). */
export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1);
}
