/**
 * A synthetic corpus N times the shared sample for the scale benchmark, generated once into a
 * cache folder and reused: N copies of every Parquet file of the sample, same schema (The
 * Stack's), copy 0 unchanged and copy k with every identifier renamed by rotating its ASCII
 * letters k places (keywords of the common languages kept, so parsers still accept the code and
 * the syntax filter drops what it dropped before). Renaming changes nearly every 5-gram
 * shingle, so near-dedup does not fold the copies into one another; lengths, line lengths and
 * character classes stay the same, so the clean filters see the same shapes. Strings and
 * comments are renamed too (a marker such as "auto-generated" no longer matches in copies k > 0,
 * so those copies keep a few more rows than copy 0). With a fraction below 1, every copy holds only
 * the first rows of each file (all languages kept): a corpus small enough for a loaded machine.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { makeData, Table, Utf8, Vector, type Data } from 'apache-arrow';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';

// Keywords (and a few literals) of C, C++, Java, JavaScript/TypeScript, Python, Go, Rust, PHP,
// Ruby, C#, Kotlin, Swift, Scala, shell, SQL: left as they are so the code still parses.
const KEYWORDS = new Set(
  `abstract and as asm assert async auto await base bool boolean break byte case catch char checked class const constexpr continue
  debugger decimal def default defer del delegate delete do done double dynamic echo elif else enum esac event except explicit export
  extends extern false fallthrough fi final finally float fn for foreach friend from func function global go goto if impl implements
  import in include inline instanceof int interface internal is lambda let long loop match mod module move mut namespace native new
  nil nonlocal not null object of operator or out override package pass private protected pub public raise readonly ref register
  reinterpret_cast require return sealed select self Self short signed sizeof static static_cast struct super switch synchronized
  template then this throw throws trait transient true try type typedef typeid typename typeof uint union unless unsigned unsafe
  until use using val var virtual void volatile when where while with yield None True False NULL nullptr string String Object
  fun val override data sealed lateinit companion init deinit extension protocol guard repeat defer elsif begin end rescue ensure
  SELECT FROM WHERE INSERT INTO VALUES UPDATE SET DELETE CREATE TABLE DROP ALTER INDEX PRIMARY KEY FOREIGN REFERENCES NOT NULL AND OR
  JOIN LEFT RIGHT INNER OUTER ON AS GROUP BY ORDER HAVING LIMIT UNION ALL DISTINCT CASE WHEN THEN ELSE END IS IN LIKE BETWEEN EXISTS
  select from where insert into values update set delete create table drop alter index primary key foreign references join left right
  inner outer on group by order having limit union all distinct like between exists local readonly declare typeset trap shift
  printf println print console log len range list dict tuple str bytes isinstance`.split(/\s+/),
);
const MAX_KEYWORD = Math.max(...[...KEYWORDS].map((k) => k.length));

const isLetter = (b: number) => (b >= 65 && b <= 90) || (b >= 97 && b <= 122);
const isWordByte = (b: number) => isLetter(b) || (b >= 48 && b <= 57) || b === 95;

/** Rotates the ASCII letters of every non-keyword identifier in UTF-8 `bytes` (in place) by `k`. */
export function renameIdentifiers(bytes: Uint8Array, k: number): void {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    // Bytes >= 0x80 are parts of multi-byte characters: never letters, never touched.
    if (!(isLetter(b) || b === 95) || (i > 0 && isWordByte(bytes[i - 1]!))) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && isWordByte(bytes[j]!)) j++;
    if (j - i > MAX_KEYWORD || !KEYWORDS.has(String.fromCharCode(...bytes.subarray(i, j)))) {
      for (let p = i; p < j; p++) {
        const c = bytes[p]!;
        if (c >= 97 && c <= 122) bytes[p] = 97 + ((c - 97 + k) % 26);
        else if (c >= 65 && c <= 90) bytes[p] = 65 + ((c - 65 + k) % 26);
      }
    }
    i = j;
  }
}

/** The `content` column with identifiers renamed for copy k (offsets unchanged: renaming keeps byte lengths). */
function renamedContent(table: Table, k: number): Vector {
  const chunks = table.getChild('content')!.data.map((d: Data) => {
    const values = new Uint8Array(d.values as Uint8Array);
    renameIdentifiers(values, k);
    return makeData({ type: new Utf8(), length: d.length, nullCount: d.nullCount, nullBitmap: d.nullBitmap, valueOffsets: d.valueOffsets as Int32Array, data: values });
  });
  return new Vector(chunks);
}

function parquetFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.parquet'))
    .sort();
}

/** The first `fraction` of the rows of a table (at least one), as a table of its own (slices keep the parent's buffers). */
function headOf(table: Table, fraction: number, name: string): Table {
  if (fraction >= 1) return table;
  return readParquetTable(writeParquetTable(table.slice(0, Math.max(1, Math.ceil(table.numRows * fraction)))), name);
}

/**
 * The folder of the synthetic corpus `copies` times `sourceDir` (only the language folders in
 * `languages`, when given; only the first `fraction` of each file's rows), generating the files
 * that `cacheDir` lacks; files already there are reused (each is written to a temporary name and
 * renamed, so none is half-written). `log` gets progress lines.
 */
export function ensureSynthetic(
  sourceDir: string,
  copies: number,
  cacheDir: string,
  languages: string[],
  log: (line: string) => void,
  fraction = 1,
): { dir: string; files: number; bytes: number; generated: number } {
  const wanted = (rel: string) => languages.length === 0 || languages.includes(rel.split('/')[0]!);
  const files = parquetFiles(sourceDir).filter(wanted);
  const outOf = (rel: string, k: number) => join(cacheDir, rel.replace(/\.parquet$/, `-copy${String(k).padStart(2, '0')}.parquet`));
  const todo = files.filter((rel) => Array.from({ length: copies }, (_, k) => outOf(rel, k)).some((o) => !existsSync(o)));
  const started = Date.now();
  if (todo.length) log(`generating ${copies} renamed copies of ${todo.length} Parquet files into ${cacheDir} (once; reused later)...`);
  for (const [n, rel] of todo.entries()) {
    const src = join(sourceDir, rel);
    const table = headOf(readParquetTable(readFileSync(src), src), fraction, src);
    for (let k = 0; k < copies; k++) {
      // <lang>/train-00000-of-00001.parquet -> <lang>/train-00000-of-00001-copy07.parquet
      const out = outOf(rel, k);
      if (existsSync(out)) continue;
      mkdirSync(dirname(out), { recursive: true });
      const copy = k === 0 ? table : table.setChild('content', renamedContent(table, k));
      writeFileSync(`${out}.tmp`, writeParquetTable(copy));
      renameSync(`${out}.tmp`, out);
    }
    log(`  ${n + 1}/${todo.length} ${relative(sourceDir, src)} x${copies} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  const outs = files.flatMap((rel) => Array.from({ length: copies }, (_, k) => outOf(rel, k)));
  return { dir: cacheDir, files: outs.length, bytes: outs.reduce((s, f) => s + statSync(f).size, 0), generated: todo.length };
}
