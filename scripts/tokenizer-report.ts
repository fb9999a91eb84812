/**
 * Characters per token, per language, of a kiln tokenizer next to cl100k_base (the GPT-4
 * tokenizer, whose ranks ship inside the js-tiktoken package: no download), on the same files.
 *
 *   npm run tokenizer:report -- <tokenizer dir | tokenizer.json> <parquet file or dir> [...] [--docs-per-lang 500] [--only <regex>]
 *
 * Pass files the tokenizer was not trained on (held out). Documents: the first N per language
 * (column `lang`, else "unknown") in sorted file order; characters are Unicode code points.
 * A higher chars/token means shorter sequences for the same code.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { readParquetTable } from '../lib/parquet.js';
import { pythonExecutable, repoRoot } from '../lib/python.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'docs-per-lang': { type: 'string', default: '500' }, only: { type: 'string' } },
});
const [tokenizerArg, ...inputs] = positionals;
if (!tokenizerArg || inputs.length === 0) {
  process.stderr.write('Usage: npm run tokenizer:report -- <tokenizer dir | tokenizer.json> <parquet file or dir> [...] [--docs-per-lang N] [--only <regex>]\n');
  process.exit(2);
}
const tokenizerJson = statSync(tokenizerArg).isDirectory() ? join(tokenizerArg, 'tokenizer.json') : tokenizerArg;
const perLang = Number(values['docs-per-lang']);
const only = values.only ? new RegExp(values.only) : undefined;

function parquetFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [resolve(path)];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => resolve(path, f));
}

const files = [...new Set(inputs.flatMap(parquetFiles))].filter((f) => !only || only.test(f)).sort();
const docs: { lang: string; text: string }[] = [];
const taken = new Map<string, number>();
for (const file of files) {
  const table = readParquetTable(readFileSync(file), file, { columns: ['content', 'lang'] });
  const content = table.getChild('content');
  const lang = table.getChild('lang');
  for (let i = 0; i < table.numRows; i++) {
    const text = content?.get(i) as string | null;
    const l = (lang?.get(i) as string | null) ?? 'unknown';
    if (!text || (taken.get(l) ?? 0) >= perLang) continue;
    taken.set(l, (taken.get(l) ?? 0) + 1);
    docs.push({ lang: l, text });
  }
}
if (docs.length === 0) {
  process.stderr.write(`tokenizer-report: no documents in ${inputs.join(', ')}\n`);
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'kiln-tokreport-'));
let ours: Record<string, number>;
try {
  const docsPath = join(tmp, 'docs.jsonl');
  writeFileSync(docsPath, docs.map((d) => JSON.stringify(d)).join('\n'));
  const out = execFileSync(pythonExecutable(), [join(repoRoot(), 'scripts/tokenizer-report.py'), tokenizerJson, docsPath], { encoding: 'utf8', maxBuffer: 1 << 26 });
  ours = JSON.parse(out) as Record<string, number>;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const enc = new Tiktoken(cl100k);
const rows = new Map<string, { docs: number; chars: number; cl100k: number }>();
for (const { lang, text } of docs) {
  const r = rows.get(lang) ?? { docs: 0, chars: 0, cl100k: 0 };
  r.docs += 1;
  r.chars += [...text].length;
  r.cl100k += enc.encode(text, [], []).length; // special-looking text is ordinary text
  rows.set(lang, r);
}

const fmt = (x: number) => x.toFixed(2);
const table = [['language', 'docs', 'chars', 'kiln tokens', 'kiln chars/tok', 'cl100k tokens', 'cl100k chars/tok', 'kiln/cl100k']];
const total = { docs: 0, chars: 0, ours: 0, cl100k: 0 };
for (const [lang, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
  const o = ours[lang] ?? 0;
  table.push([lang, String(r.docs), String(r.chars), String(o), fmt(r.chars / o), String(r.cl100k), fmt(r.chars / r.cl100k), fmt(r.cl100k / o)]);
  Object.assign(total, { docs: total.docs + r.docs, chars: total.chars + r.chars, ours: total.ours + o, cl100k: total.cl100k + r.cl100k });
}
table.push(['ALL', String(total.docs), String(total.chars), String(total.ours), fmt(total.chars / total.ours), String(total.cl100k), fmt(total.chars / total.cl100k), fmt(total.cl100k / total.ours)]);
const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
process.stdout.write(`tokenizer ${tokenizerJson} vs cl100k_base on ${files.length} file(s), first ${perLang} docs per language\n`);
for (const [i, r] of table.entries()) {
  process.stdout.write(`${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}\n`);
  if (i === 0 || i === table.length - 2) process.stdout.write(`${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
}
process.stdout.write('kiln/cl100k > 1: kiln needs fewer tokens than cl100k for the same text.\n');
