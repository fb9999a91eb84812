/**
 * What the data report reads from finished stages: the `_DETAILS.json` a stage may have written
 * (tolerated when absent or malformed) and a profile of its Parquet outputs, read file by file
 * and column by column (lang, size, line lengths) so memory stays bounded by one file.
 */
import type { Data, Table } from 'apache-arrow';
import { DETAILS_NAME, joinUri, type StageResult } from '../../lib/manifest.js';
import { readParquetTable } from '../../lib/parquet.js';
import { LogDistribution } from '../../lib/report/distribution.js';
import { langFolder, readStringColumn } from '../../lib/stackSchema.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { yieldToEventLoop } from '../support/heartbeat.js';


/** The numeric columns profiled, with their report labels. */
export const METRICS = {
  size: 'file size (bytes)',
  max_line_length: 'longest line (characters)',
  avg_line_length: 'average line length (characters)',
} as const;
export type Metric = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as Metric[];

export interface LanguageProfile {
  /** `lang` as first seen in the data (display name). */
  name: string;
  files: number;
  /** Sum of the `size` column (rows with a null size add nothing; see missing.size). */
  bytes: number;
  metrics: Record<Metric, LogDistribution>;
  /** Rows whose value of the metric is null (e.g. a source that did not carry line lengths). */
  missing: Record<Metric, number>;
}

export interface StageProfile {
  stage: string;
  dir: string;
  fingerprint: string;
  stats: Record<string, unknown>;
  /** Parsed `_DETAILS.json`, or null when the stage wrote none (or an unreadable one: see notes). */
  details: unknown;
  /** Languages keyed by their folder name (lower case), sorted. */
  languages: Map<string, LanguageProfile>;
  notes: string[];
}

function emptyMetrics(): Record<Metric, LogDistribution> {
  return { size: new LogDistribution(), max_line_length: new LogDistribution(), avg_line_length: new LogDistribution() };
}

/** A stage's `_DETAILS.json`: null when absent; a note (not a failure) when it is not JSON. */
export async function readDetails(store: ArtifactStore, dir: string, notes: string[]): Promise<unknown> {
  const uri = joinUri(dir, DETAILS_NAME);
  if (!(await store.exists(uri))) return null;
  try {
    return JSON.parse(new TextDecoder().decode(await store.readBytes(uri)));
  } catch (err) {
    notes.push(`${uri} is not valid JSON (${(err as Error).message}); its details are left out.`);
    return null;
  }
}

/** Values of a numeric column (int64 or float64) as numbers, null where null. */
function forEachNumber(table: Table, name: string, fn: (value: number | null, row: number) => void): boolean {
  const vector = table.getChild(name);
  if (!vector) return false;
  let row = 0;
  for (const data of vector.data as Data[]) {
    const values = data.values as ArrayLike<number | bigint>;
    for (let j = 0; j < data.length; j++, row++) fn(data.getValid(j) ? Number(values[j]) : null, row);
  }
  return true;
}

/** Adds one Parquet file's rows to the per-language profile. */
export function profileTable(table: Table, languages: Map<string, LanguageProfile>): void {
  const langs = readStringColumn(table, 'lang');
  const perRow: LanguageProfile[] = langs.map((lang) => {
    const name = lang ?? '(none)';
    const key = langFolder(name);
    let p = languages.get(key);
    if (!p) languages.set(key, (p = { name, files: 0, bytes: 0, metrics: emptyMetrics(), missing: { size: 0, max_line_length: 0, avg_line_length: 0 } }));
    p.files++;
    return p;
  });
  for (const metric of METRIC_NAMES) {
    forEachNumber(table, metric, (v, row) => {
      const p = perRow[row];
      if (v === null) p.missing[metric]++;
      else p.metrics[metric].add(v);
      if (metric === 'size' && v !== null) p.bytes += v;
    });
  }
}

/** The profile of one finished stage; `onFile` reports progress (heartbeats). */
export async function profileStage(store: ArtifactStore, result: StageResult, onFile: () => void = () => undefined): Promise<StageProfile> {
  const notes: string[] = [];
  const details = await readDetails(store, result.dir, notes);
  const languages = new Map<string, LanguageProfile>();
  const files = result.outputs.filter((u) => /\.parquet$/i.test(u)).sort();
  for (const uri of files) {
    const table = readParquetTable(await store.readBytes(uri), uri, { columns: ['lang', ...METRIC_NAMES] });
    profileTable(table, languages);
    onFile();
    await yieldToEventLoop();
  }
  const sorted = new Map([...languages.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { stage: result.stage, dir: result.dir, fingerprint: result.fingerprint, stats: result.stats ?? {}, details, languages: sorted, notes };
}
