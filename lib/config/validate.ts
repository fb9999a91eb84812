/**
 * Config validation shared by the workflow (deterministic: no I/O) and `kiln validate-config`.
 * The schema is imported as JSON so the workflow bundle carries it.
 */
import { Ajv, type ErrorObject } from 'ajv';
import schema from '../../configs/schema.json' with { type: 'json' };
import type { SectionName } from './defaults.js';
import type { PipelineConfig } from './types.js';

export class ConfigError extends Error {
  constructor(readonly field: string, readonly rule: string) {
    super(`Invalid config: \`${field}\` ${rule}.`);
    this.name = 'ConfigError';
  }
}

// strictNumbers: NaN and Infinity are not numbers (JSON has neither; a section built in code might).
const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false, strictNumbers: true });
const check = ajv.compile(schema);

function fieldOf(error: ErrorObject): string {
  const path = error.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('');
  if (error.keyword === 'additionalProperties') {
    return `${path.slice(1) ? path.slice(1) + '.' : ''}${(error.params as { additionalProperty: string }).additionalProperty}`;
  }
  if (error.keyword === 'required') {
    return `${path.slice(1) ? path.slice(1) + '.' : ''}${(error.params as { missingProperty: string }).missingProperty}`;
  }
  return path.slice(1) || '(root)';
}

function ruleOf(error: ErrorObject, value: unknown): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return 'is not a known field (check its spelling against configs/schema.json)';
    case 'required':
      return 'is required';
    default: {
      const got = value === undefined ? '' : `, got ${JSON.stringify(value)}`;
      return `${error.message ?? 'is invalid'}${got}`;
    }
  }
}

function valueAt(root: unknown, instancePath: string): unknown {
  let cur: unknown = root;
  for (const part of instancePath.split('/').filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * An s3:// URI must name a bucket: `s3:///path` would otherwise reach the store as an empty
 * bucket name. Which roots a worker may use is checked by the run's first activity
 * (lib/security/roots.ts), since that depends on the worker's environment.
 */
function checkBuckets(c: PipelineConfig): void {
  const uris: [string, string][] = [['artifacts', c.artifacts], ['ingest.source', c.ingest.source], ['eval.problems', c.eval.problems]];
  for (const [field, uri] of uris) {
    const bucket = /^s3:\/\/([^/]*)/.exec(uri)?.[1];
    if (bucket === '') throw new ConfigError(field, `must name a bucket (s3://<bucket>/<prefix>), got ${JSON.stringify(uri)}`);
  }
}

/** Rules that JSON Schema cannot express: relations between fields. */
function checkRelations(c: PipelineConfig): void {
  checkBuckets(c);
  if ((c.dedup.bands === undefined) !== (c.dedup.rows === undefined)) {
    throw new ConfigError(c.dedup.bands === undefined ? 'dedup.bands' : 'dedup.rows', 'must be set together with the other (or neither, to have them chosen for dedup.threshold)');
  }
  if (c.dedup.bands !== undefined && c.dedup.rows !== undefined && c.dedup.bands * c.dedup.rows > c.dedup.numPerm) {
    throw new ConfigError('dedup.numPerm', `must be at least dedup.bands * dedup.rows (${c.dedup.bands} * ${c.dedup.rows} = ${c.dedup.bands * c.dedup.rows}), got ${c.dedup.numPerm}`);
  }
  if (c.model.dModel % c.model.nHead !== 0) {
    throw new ConfigError('model.dModel', `must be divisible by model.nHead (${c.model.nHead}), got ${c.model.dModel}`);
  }
  const kv = c.model.nKvHead ?? c.model.nHead;
  if (c.model.nHead % kv !== 0) {
    throw new ConfigError('model.nKvHead', `must divide model.nHead (${c.model.nHead}), got ${kv}`);
  }
  if ((c.model.dModel / c.model.nHead) % 2 !== 0) {
    throw new ConfigError('model.dModel', `divided by model.nHead must be even for rotary embeddings, got head size ${c.model.dModel / c.model.nHead}`);
  }
  for (const [i, k] of c.eval.k.entries()) {
    if (k > c.eval.samplesPerProblem) {
      throw new ConfigError(`eval.k[${i}]`, `must be at most eval.samplesPerProblem (${c.eval.samplesPerProblem}), got ${k}`);
    }
  }
  if (c.train.warmupSteps >= c.train.steps && c.train.steps > 1) {
    throw new ConfigError('train.warmupSteps', `must be less than train.steps (${c.train.steps}), got ${c.train.warmupSteps}`);
  }
}

/** Validates and fills defaults. Throws ConfigError naming the first offending field. */
export function validateConfig(raw: unknown): PipelineConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('(root)', `must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  // A JSON copy (the workflow sandbox has no structuredClone); defaults are filled into it.
  const config = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
  if (!check(config)) {
    const error = check.errors![0]!;
    throw new ConfigError(fieldOf(error), ruleOf(error, valueAt(config, error.instancePath)));
  }
  delete config.$schema;
  const resolved = config as unknown as PipelineConfig;
  checkRelations(resolved);
  return resolved;
}

const sectionChecks = new Map<SectionName, ReturnType<typeof ajv.compile>>();

/**
 * Validates one section on its own against its sub-schema of configs/schema.json and fills its
 * defaults (a stage run outside the pipeline: `kiln clean`, tests). Throws ConfigError naming
 * `<section>.<field>`. `raw` is copied, never changed.
 */
export function validateSection<S extends SectionName>(section: S, raw: unknown): PipelineConfig[S] {
  let sectionCheck = sectionChecks.get(section);
  if (!sectionCheck) {
    sectionCheck = ajv.compile((schema.properties as Record<string, object>)[section]!);
    sectionChecks.set(section, sectionCheck);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(section, `must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  const value = structuredCopy(raw);
  if (!sectionCheck(value)) {
    const error = sectionCheck.errors![0]!;
    const field = fieldOf(error);
    throw new ConfigError(field === '(root)' ? section : `${section}.${field}`, ruleOf(error, valueAt(value, error.instancePath)));
  }
  return value as PipelineConfig[S];
}

/** A deep copy of plain data that keeps what JSON would change (NaN, Infinity: the check refuses them). */
function structuredCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(structuredCopy);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = structuredCopy(v);
    return out;
  }
  return value;
}
