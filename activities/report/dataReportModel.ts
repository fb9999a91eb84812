/**
 * The data report as data (written as report.json and rendered as HTML): the funnel from ingest
 * through each clean filter to dedup, per language; why files were removed, with examples;
 * size and line-length distributions; duplicate clusters; PII and syntax counts. Built from
 * stage profiles (readStages.ts); every `_DETAILS.json` field is optional.
 */
import type { Bin, DistributionSummary } from '../../lib/report/distribution.js';
import { LogDistribution } from '../../lib/report/distribution.js';
import { formatCount } from '../../lib/report/format.js';
import { langFolder } from '../../lib/stackSchema.js';
import { METRIC_NAMES, METRICS, type Metric, type StageProfile } from './readStages.js';

export const DATA_REPORT_VERSION = 1;

export interface SummaryStep {
  step: string;
  kind: 'ingest' | 'filter' | 'stage' | 'dedup';
  filesIn: number | null;
  removed: number | null;
  filesOut: number | null;
  bytesIn: number | null;
  bytesOut: number | null;
}

export interface LanguageRow {
  lang: string;
  /** Files after each funnel column (same order as DataReport.funnelColumns); null when unknown. */
  files: (number | null)[];
  stageFiles: { ingest: number | null; clean: number | null; dedup: number | null };
  bytes: { ingest: number | null; clean: number | null; dedup: number | null };
  /** Files clean dropped, per filter (from clean's _DETAILS.json; empty without it). */
  droppedBy: Record<string, number>;
}

export interface RemovalSample {
  repo: string;
  path: string;
  lang: string;
  size: number | null;
  excerpt: string;
}

export interface Removal {
  filter: string;
  stage: string;
  dropped: number;
  droppedBytes: number | null;
  samples: RemovalSample[];
}

export interface MetricReport {
  metric: Metric;
  label: string;
  stages: { stage: string; summary: DistributionSummary; bins: Bin[] }[];
  /** Per language, in the last stage profiled. */
  perLanguage: { lang: string; summary: DistributionSummary }[];
}

export interface DataReport {
  version: number;
  stages: { stage: string; dir: string; fingerprint: string }[];
  summary: SummaryStep[];
  funnelColumns: string[];
  languages: LanguageRow[];
  removals: Removal[];
  skipped: { uri: string; reason: string }[];
  distributions: MetricReport[];
  dedup: {
    exactDuplicates: number | null;
    nearDuplicates: number | null;
    clusters: number | null;
    clusterSizes: { size: number; count: number }[];
    largestClusters: { size: number; kept: { repo: string; path: string }; removed: { repo: string; path: string }[] }[];
  } | null;
  pii: { counts: { type: string; count: number }[]; documentsRedacted: number | null } | null;
  syntax: { lang: string; checked: number; failed: number; skipped: number | null }[] | null;
  notes: string[];
}

// --- tolerant readers of untyped JSON ---------------------------------------------------------
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));
const entries = (v: unknown): [string, unknown][] => Object.entries(obj(v) ?? {});
const sum = (xs: (number | null)[]): number => xs.reduce<number>((a, b) => a + (b ?? 0), 0);

function totals(p: StageProfile | undefined): { files: number; bytes: number } | null {
  if (!p) return null;
  let files = 0;
  let bytes = 0;
  for (const l of p.languages.values()) {
    files += l.files;
    bytes += l.bytes;
  }
  return { files, bytes };
}

/** Clean's filters in run order: from _DETAILS.json, else the manifest's drop_reasons (counts only). */
function removalsOf(clean: StageProfile | undefined): Removal[] {
  if (!clean) return [];
  const filters = arr(obj(clean.details)?.filters);
  if (filters.length) {
    return filters.flatMap((f) => {
      const o = obj(f);
      if (!o || !str(o.name)) return [];
      const samples = arr(o.samples).flatMap((s) => {
        const so = obj(s);
        return so ? [{ repo: str(so.repo), path: str(so.path), lang: str(so.lang), size: num(so.size), excerpt: str(so.excerpt) }] : [];
      });
      return [{ filter: str(o.name), stage: clean.stage, dropped: num(o.dropped) ?? 0, droppedBytes: num(o.dropped_bytes), samples }];
    });
  }
  return entries(clean.stats.drop_reasons).map(([name, n]) => ({ filter: name, stage: clean.stage, dropped: num(n) ?? 0, droppedBytes: null, samples: [] }));
}

function summaryOf(ingest: StageProfile | undefined, clean: StageProfile | undefined, dedup: StageProfile | undefined, removals: Removal[]): SummaryStep[] {
  const steps: SummaryStep[] = [];
  const ingestTotals = totals(ingest);
  if (ingest && ingestTotals) {
    const rowsIn = num(ingest.stats.rows_in);
    steps.push({
      step: 'ingest (language selection, row cap)',
      kind: 'ingest',
      filesIn: rowsIn,
      removed: rowsIn === null ? null : rowsIn - ingestTotals.files,
      filesOut: ingestTotals.files,
      bytesIn: null,
      bytesOut: ingestTotals.bytes,
    });
  }
  const cleanTotals = totals(clean);
  if (clean && cleanTotals) {
    let files = num(clean.stats.rows_in) ?? ingestTotals?.files ?? null;
    let bytes = num(clean.stats.content_bytes_in) ?? ingestTotals?.bytes ?? null;
    for (const r of removals) {
      const out = files === null ? null : files - r.dropped;
      const bytesOut = bytes === null || r.droppedBytes === null ? null : bytes - r.droppedBytes;
      steps.push({ step: `clean: ${r.filter}`, kind: 'filter', filesIn: files, removed: r.dropped, filesOut: out, bytesIn: bytes, bytesOut });
      files = out;
      bytes = bytesOut;
    }
    // PII redaction changes bytes, not files: the clean output is measured from its Parquet files.
    steps.push({ step: 'clean output (after PII redaction)', kind: 'stage', filesIn: files, removed: files === null ? null : files - cleanTotals.files, filesOut: cleanTotals.files, bytesIn: bytes, bytesOut: cleanTotals.bytes });
  }
  const dedupTotals = totals(dedup);
  if (dedup && dedupTotals) {
    const d = obj(dedup.details);
    const exact = num(d?.exact_duplicates) ?? num(dedup.stats.exact_duplicates);
    const near = num(d?.near_duplicates) ?? num(dedup.stats.near_duplicates);
    const filesIn = num(dedup.stats.rows_in) ?? cleanTotals?.files ?? null;
    const bytesIn = cleanTotals?.bytes ?? null;
    if (exact !== null && near !== null && filesIn !== null) {
      steps.push({ step: 'dedup: exact duplicates', kind: 'dedup', filesIn, removed: exact, filesOut: filesIn - exact, bytesIn, bytesOut: null });
      steps.push({ step: 'dedup: near duplicates (MinHash LSH)', kind: 'dedup', filesIn: filesIn - exact, removed: near, filesOut: dedupTotals.files, bytesIn: null, bytesOut: dedupTotals.bytes });
    } else {
      steps.push({ step: 'dedup', kind: 'dedup', filesIn, removed: filesIn === null ? null : filesIn - dedupTotals.files, filesOut: dedupTotals.files, bytesIn, bytesOut: dedupTotals.bytes });
    }
  }
  return steps;
}

/** Files per language after ingest, after each clean filter (when clean's details say), after clean and after dedup. */
function languagesOf(ingest: StageProfile | undefined, clean: StageProfile | undefined, dedup: StageProfile | undefined, removals: Removal[]) {
  const cleanLangs = new Map<string, Obj>(entries(obj(clean?.details)?.per_language).flatMap(([k, v]) => (obj(v) ? [[langFolder(k), obj(v)!]] : [])));
  const perFilter = cleanLangs.size > 0 && removals.length > 0;
  const columns = [
    ...(ingest ? ['ingest'] : []),
    ...(perFilter ? removals.map((r) => `after ${r.filter}`) : []),
    ...(clean ? ['clean'] : []),
    ...(dedup ? ['dedup'] : []),
  ];
  const keys = new Set<string>();
  for (const p of [ingest, clean, dedup]) for (const k of p?.languages.keys() ?? []) keys.add(k);
  for (const k of cleanLangs.keys()) keys.add(k);
  const rows: LanguageRow[] = [...keys].sort().map((key) => {
    const name = ingest?.languages.get(key)?.name ?? clean?.languages.get(key)?.name ?? dedup?.languages.get(key)?.name ?? key;
    const files = (p: StageProfile | undefined) => (p ? (p.languages.get(key)?.files ?? 0) : null);
    const bytes = (p: StageProfile | undefined) => (p ? (p.languages.get(key)?.bytes ?? 0) : null);
    const counts: (number | null)[] = [];
    if (ingest) counts.push(files(ingest));
    if (perFilter) {
      const info = cleanLangs.get(key);
      let running = num(info?.rows_in) ?? files(ingest);
      const droppedBy = obj(info?.dropped_by) ?? {};
      for (const r of removals) {
        running = running === null ? null : running - (num(droppedBy[r.filter]) ?? 0);
        counts.push(running);
      }
    }
    if (clean) counts.push(files(clean));
    if (dedup) counts.push(files(dedup));
    const droppedBy = Object.fromEntries(entries(cleanLangs.get(key)?.dropped_by).flatMap(([f, n]) => (num(n) ? [[f, num(n)!]] : [])));
    return {
      lang: name,
      files: counts,
      stageFiles: { ingest: files(ingest), clean: files(clean), dedup: files(dedup) },
      bytes: { ingest: bytes(ingest), clean: bytes(clean), dedup: bytes(dedup) },
      droppedBy,
    };
  });
  // Biggest languages first; ties by name, so the order is stable.
  const size = (r: LanguageRow) => r.stageFiles.ingest ?? r.stageFiles.clean ?? r.stageFiles.dedup ?? 0;
  rows.sort((a, b) => size(b) - size(a) || (a.lang < b.lang ? -1 : a.lang > b.lang ? 1 : 0));
  return { columns, rows };
}

function distributionsOf(profiles: StageProfile[]): MetricReport[] {
  const last = profiles[profiles.length - 1];
  return METRIC_NAMES.map((metric) => {
    const stages = profiles.map((p) => {
      const all = new LogDistribution();
      for (const l of p.languages.values()) all.merge(l.metrics[metric]);
      return { stage: p.stage, summary: all.summary(), bins: all.bins() };
    });
    const perLanguage = last ? [...last.languages.values()].map((l) => ({ lang: l.name, summary: l.metrics[metric].summary() })) : [];
    return { metric, label: METRICS[metric], stages, perLanguage };
  });
}

function dedupOf(dedup: StageProfile | undefined): DataReport['dedup'] {
  if (!dedup) return null;
  const d = obj(dedup.details);
  const ref = (v: unknown) => ({ repo: str(obj(v)?.repo), path: str(obj(v)?.path) });
  return {
    exactDuplicates: num(d?.exact_duplicates) ?? num(dedup.stats.exact_duplicates),
    nearDuplicates: num(d?.near_duplicates) ?? num(dedup.stats.near_duplicates),
    clusters: num(dedup.stats.clusters),
    clusterSizes: entries(d?.cluster_sizes)
      .map(([size, count]) => ({ size: Number(size), count: num(count) ?? 0 }))
      .filter((c) => Number.isFinite(c.size))
      .sort((a, b) => a.size - b.size),
    largestClusters: arr(d?.largest_clusters).flatMap((c) => {
      const o = obj(c);
      return o ? [{ size: num(o.size) ?? 0, kept: ref(o.kept), removed: arr(o.removed).map(ref) }] : [];
    }),
  };
}

function piiOf(clean: StageProfile | undefined): DataReport['pii'] {
  if (!clean) return null;
  const fromDetails = entries(obj(clean.details)?.pii);
  const source = fromDetails.length ? fromDetails : entries(clean.stats.redactions);
  if (!source.length) return null;
  return { counts: source.map(([type, n]) => ({ type, count: num(n) ?? 0 })), documentsRedacted: num(clean.stats.documents_redacted) };
}

function syntaxOf(clean: StageProfile | undefined): DataReport['syntax'] {
  const rows = entries(obj(clean?.details)?.syntax).flatMap(([lang, v]) => {
    const o = obj(v);
    return o ? [{ lang, checked: num(o.checked) ?? 0, failed: num(o.failed) ?? 0, skipped: num(o.skipped_too_large) ?? num(o.skipped) }] : [];
  });
  return rows.length ? rows.sort((a, b) => (a.lang < b.lang ? -1 : a.lang > b.lang ? 1 : 0)) : null;
}

export function buildDataReport(profiles: { ingest?: StageProfile; clean?: StageProfile; dedup?: StageProfile }): DataReport {
  const { ingest, clean, dedup } = profiles;
  const present = [ingest, clean, dedup].filter((p): p is StageProfile => !!p);
  const notes = present.flatMap((p) => p.notes);
  for (const p of present) {
    if (p.details === null) notes.push(`The ${p.stage} stage wrote no _DETAILS.json: its section shows the manifest's counts only.`);
    for (const metric of METRIC_NAMES) {
      const missing = sum([...p.languages.values()].map((l) => l.missing[metric]));
      if (!missing) continue;
      const consequence = metric === 'size' ? 'their bytes are not counted and they are left out of the size distribution' : 'they are left out of its distribution';
      notes.push(`${formatCount(missing)} files of the ${p.stage} output have no \`${metric}\` (null in the data); ${consequence}.`);
    }
  }
  const removals = removalsOf(clean);
  const { columns, rows } = languagesOf(ingest, clean, dedup, removals);
  const skipped = arr(obj(ingest?.details)?.skipped).flatMap((s) => (obj(s) ? [{ uri: str(obj(s)!.uri), reason: str(obj(s)!.reason) }] : []));
  return {
    version: DATA_REPORT_VERSION,
    stages: present.map((p) => ({ stage: p.stage, dir: p.dir, fingerprint: p.fingerprint })),
    summary: summaryOf(ingest, clean, dedup, removals),
    funnelColumns: columns,
    languages: rows,
    removals,
    skipped,
    distributions: distributionsOf(present),
    dedup: dedupOf(dedup),
    pii: piiOf(clean),
    syntax: syntaxOf(clean),
    notes,
  };
}
