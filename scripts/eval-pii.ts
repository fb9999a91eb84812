/**
 * Precision, recall and F1 of kiln's PII redaction per entity type on the labelled set in
 * data/pii-eval/eval.jsonl, measured through the CLI the clean stage shares its code with:
 * the documents go to a spawned `kiln redact --json --jsonl`, its entities are scored here.
 *
 *   npm run eval:pii [-- --set data/pii-eval/eval.jsonl] [--show] [--corpus <stack-sample dir>]
 *   npm run eval:pii -- --list-detections <stack-sample dir>   (TSV of every detection, to review)
 *
 * Span matching: a detection is a true positive when it overlaps (shares at least one code
 * unit with) a labelled span of the same type, else a false positive; a label is found when a
 * detection of its type overlaps it, else it is a false negative. Precision = true-positive
 * detections / detections; recall = found labels / labels. The same figures under BigCode's
 * stricter rule (overlap > 80% of both spans) are printed beside them.
 * Throughput: findPii (the function `kiln redact` and the clean stage call) over the set's
 * texts in this process, MB/s on one core; with --corpus, over every file of a Stack-format
 * Parquet corpus too. The CLI's wall time (process start included) is printed apart.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { findPii, PII_TYPES, type PiiEntity, type PiiType } from '../activities/clean/redact.js';
import { readParquetTable } from '../lib/parquet.js';
import { readStringColumn } from '../lib/stackSchema.js';

const ROOT = join(import.meta.dirname, '..');

/** A labelled or detected span: the shape findPii returns. */
export type Span = PiiEntity;
export interface LabelledDoc {
  id: string;
  text: string;
  labels: Span[];
}
export interface TypeScore {
  labels: number;
  detections: number;
  /** Detections that overlap a label of their type. */
  truePositives: number;
  /** Labels overlapped by a detection of their type. */
  found: number;
  precision: number;
  recall: number;
  f1: number;
}
export type MatchRule = (detection: Span, label: Span) => boolean;

/** Any shared code unit. */
export const overlaps: MatchRule = (a, b) => a.start < b.end && b.start < a.end;
/** BigCode's evaluation rule: the overlap covers more than 80% of each span. */
export const overlapsBigCode: MatchRule = (a, b) => {
  const shared = Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
  return shared / (a.end - a.start) > 0.8 && shared / (b.end - b.start) > 0.8;
};

/** Precision, recall and F1 per type; `predictions` maps a document id to its detections. */
export function scorePii(docs: LabelledDoc[], predictions: Map<string, Span[]>, match: MatchRule = overlaps): Record<PiiType, TypeScore> {
  const out = {} as Record<PiiType, TypeScore>;
  for (const type of PII_TYPES) {
    let labels = 0;
    let detections = 0;
    let truePositives = 0;
    let found = 0;
    for (const doc of docs) {
      const gold = doc.labels.filter((l) => l.type === type);
      const pred = (predictions.get(doc.id) ?? []).filter((p) => p.type === type);
      labels += gold.length;
      detections += pred.length;
      truePositives += pred.filter((p) => gold.some((g) => match(p, g))).length;
      found += gold.filter((g) => pred.some((p) => match(p, g))).length;
    }
    const precision = detections === 0 ? (labels === 0 ? 1 : 0) : truePositives / detections;
    const recall = labels === 0 ? 1 : found / labels;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    out[type] = { labels, detections, truePositives, found, precision, recall, f1 };
  }
  return out;
}

/** Runs the documents through `kiln redact --json --jsonl` in a child process. */
async function detectWithCli(docs: LabelledDoc[]): Promise<{ predictions: Map<string, Span[]>; seconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'kiln.js'), 'redact', '--json', '--jsonl'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  const predictions = new Map<string, Span[]>();
  const reading = (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      const { id, entities } = JSON.parse(line) as { id: string; entities: Span[] };
      predictions.set(id, entities);
    }
  })();
  for (const doc of docs) {
    if (!child.stdin.write(JSON.stringify({ id: doc.id, text: doc.text }) + '\n')) await new Promise((r) => child.stdin.once('drain', r));
  }
  child.stdin.end();
  await reading;
  const code = await exited;
  if (code !== 0) throw new Error(`kiln redact exited with code ${code}`);
  if (predictions.size !== docs.length) throw new Error(`kiln redact answered ${predictions.size} of ${docs.length} documents`);
  return { predictions, seconds: (performance.now() - started) / 1000 };
}

/**
 * MB/s of findPii over `texts` on this core (repeated for at least a second): per wall second
 * and per CPU second of this process (the second is steadier on a shared, loaded machine).
 */
function throughput(texts: string[]): { mb: number; wallMbPerS: number; cpuMbPerS: number } {
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  for (const t of texts.slice(0, 50)) findPii(t); // warm up the JIT
  let rounds = 0;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  do {
    for (const t of texts) findPii(t);
    rounds++;
  } while (performance.now() - started < 1000);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { mb: bytes / 1e6, wallMbPerS: (bytes * rounds) / 1e6 / seconds, cpuMbPerS: (bytes * rounds) / 1e6 / cpuSeconds };
}

function corpusFiles(dir: string): { repo: string; path: string; text: string }[] {
  const files: { repo: string; path: string; text: string }[] = [];
  const dataDir = join(dir, 'data');
  for (const lang of readdirSync(dataDir).sort()) {
    for (const name of readdirSync(join(dataDir, lang)).sort()) {
      const uri = join(dataDir, lang, name);
      const table = readParquetTable(readFileSync(uri), uri, { columns: ['content', 'max_stars_repo_name', 'max_stars_repo_path'] });
      const repos = readStringColumn(table, 'max_stars_repo_name');
      const paths = readStringColumn(table, 'max_stars_repo_path');
      readStringColumn(table, 'content').forEach((text, i) => {
        if (text) files.push({ repo: repos[i] ?? '', path: paths[i] ?? '', text });
      });
    }
  }
  return files;
}

/** Every detection in a Stack-format corpus, one TSV line each, for a person to review (precision on real code). */
function listDetections(dir: string): number {
  process.stdout.write('type\trepo\tpath\tstart\tvalue\tcontext\n');
  for (const { repo, path, text } of corpusFiles(dir)) {
    for (const e of findPii(text)) {
      const flat = (s: string): string => s.replace(/\s+/g, ' ');
      const context = flat(text.slice(Math.max(0, e.start - 60), e.end + 30));
      process.stdout.write(`${e.type}\t${repo}\t${path}\t${e.start}\t${flat(text.slice(e.start, e.end)).slice(0, 120)}\t${context.slice(0, 300)}\n`);
    }
  }
  return 0;
}

const fmt = (x: number): string => x.toFixed(3);

function table(strict: Record<PiiType, TypeScore>, loose: Record<PiiType, TypeScore>): string {
  const rows = [
    '| type | labels | detections | precision | recall | F1 | F1 (BigCode 80% overlap) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const type of PII_TYPES) {
    const s = loose[type];
    rows.push(`| ${type} | ${s.labels} | ${s.detections} | ${fmt(s.precision)} | ${fmt(s.recall)} | ${fmt(s.f1)} | ${fmt(strict[type].f1)} |`);
  }
  return rows.join('\n');
}

function showErrors(docs: LabelledDoc[], predictions: Map<string, Span[]>): void {
  const excerpt = (text: string, s: Span): string => JSON.stringify(text.slice(Math.max(0, s.start - 40), s.end + 40));
  for (const doc of docs) {
    const pred = predictions.get(doc.id) ?? [];
    for (const p of pred) if (!doc.labels.some((l) => l.type === p.type && overlaps(p, l))) process.stdout.write(`FP ${p.type} ${doc.id}: ${excerpt(doc.text, p)}\n`);
    for (const l of doc.labels) if (!pred.some((p) => p.type === l.type && overlaps(p, l))) process.stdout.write(`FN ${l.type} ${doc.id}: ${excerpt(doc.text, l)}\n`);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      set: { type: 'string', default: join(ROOT, 'data', 'pii-eval', 'eval.jsonl') },
      show: { type: 'boolean' },
      corpus: { type: 'string' },
      'list-detections': { type: 'string' },
    },
  });
  if (values['list-detections']) return listDetections(values['list-detections']);
  const docs = readFileSync(values.set!, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LabelledDoc);
  const { predictions, seconds } = await detectWithCli(docs);
  if (values.show) showErrors(docs, predictions);
  const loose = scorePii(docs, predictions);
  const strict = scorePii(docs, predictions, overlapsBigCode);
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);
  process.stdout.write(`PII evaluation: ${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB, through \`kiln redact --json --jsonl\` (${seconds.toFixed(2)} s wall, process start included)\n\n`);
  process.stdout.write(table(strict, loose) + '\n\n');
  const report = (what: string, t: ReturnType<typeof throughput>): void => {
    process.stdout.write(`findPii throughput, one core, ${what} (${t.mb.toFixed(2)} MB): ${t.wallMbPerS.toFixed(1)} MB/s wall, ${t.cpuMbPerS.toFixed(1)} MB/s per CPU second\n`);
  };
  report('evaluation set', throughput(docs.map((d) => d.text)));
  if (values.corpus) report(values.corpus, throughput(corpusFiles(values.corpus).map((f) => f.text)));
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`eval-pii: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
