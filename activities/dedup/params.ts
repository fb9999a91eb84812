/**
 * The dedup stage's settings (the config's `dedup` section), resolved and checked. Field docs and
 * defaults are configs/schema.json's; bands and rows, which have no default there, are chosen for
 * threshold and numPerm by datasketch's rule (lshParams.ts).
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { schemaDefaults, sectionKeys } from '../../lib/config/defaults.js';
import type { DedupConfig } from '../../lib/config/types.js';
import { optimalBandsRows } from './lshParams.js';

/** The dedup section with every field resolved, bands and rows included. */
export type DedupParams = Required<DedupConfig>;

type Settings = Omit<DedupParams, 'bands' | 'rows'>;

/** The schema's defaults: every field but bands and rows. */
export const DEFAULT_DEDUP_SETTINGS: Settings = schemaDefaults('dedup');

/**
 * The defaults with bands and rows chosen for them: (25, 10), datasketch's optimum for the schema's
 * threshold 0.7 and numPerm 256 (written out: the search takes half a second; test/config/defaults.test.ts
 * checks it against resolveDedupParams({})).
 */
export const DEFAULT_DEDUP_PARAMS: DedupParams = { ...DEFAULT_DEDUP_SETTINGS, bands: 25, rows: 10 };

const optima = new Map<string, { bands: number; rows: number }>();
function cachedOptimum(threshold: number, numPerm: number) {
  const key = `${threshold}/${numPerm}`;
  let opt = optima.get(key);
  if (!opt) optima.set(key, (opt = optimalBandsRows(threshold, numPerm)));
  return opt;
}

const KEYS = new Set(sectionKeys('dedup'));

/** Defaults filled in (bands and rows by datasketch's rule) and the rules checked; errors name the field. */
export function resolveDedupParams(params: Partial<DedupParams> = {}): DedupParams {
  const p: Record<string, unknown> = { ...DEFAULT_DEDUP_SETTINGS };
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (!KEYS.has(key)) throw fatal(ErrorType.InvalidConfig, `dedup.${key} is not a dedup setting.`);
    const expected = key === 'bands' || key === 'rows' ? 'number' : typeof DEFAULT_DEDUP_SETTINGS[key as keyof Settings];
    if (typeof value !== expected) throw fatal(ErrorType.InvalidConfig, `Expected dedup.${key} to be a ${expected}, got ${JSON.stringify(value)}.`);
    p[key] = value;
  }
  for (const key of ['numPerm', 'ngram', 'bands', 'rows']) {
    if (p[key] === undefined) continue;
    if (!Number.isInteger(p[key]) || (p[key] as number) < 1) throw fatal(ErrorType.InvalidConfig, `Expected dedup.${key} to be a positive integer, got ${p[key]}.`);
  }
  const threshold = p.threshold as number;
  if (!(threshold > 0 && threshold < 1)) throw fatal(ErrorType.InvalidConfig, `Expected dedup.threshold to be between 0 and 1 (exclusive), got ${threshold}.`);
  const numPerm = p.numPerm as number;
  if ((p.bands === undefined) !== (p.rows === undefined)) {
    throw fatal(ErrorType.InvalidConfig, `Set both dedup.bands and dedup.rows, or neither (then they are chosen for dedup.threshold and dedup.numPerm).`);
  }
  if (p.bands === undefined) Object.assign(p, cachedOptimum(threshold, numPerm));
  const bands = p.bands as number;
  const rows = p.rows as number;
  if (p.near && bands * rows > numPerm) {
    throw fatal(
      ErrorType.InvalidConfig,
      `dedup.bands * dedup.rows must be at most dedup.numPerm: got bands * rows = ${bands} * ${rows} = ${bands * rows}, numPerm ${numPerm}.`,
    );
  }
  return p as unknown as DedupParams;
}
