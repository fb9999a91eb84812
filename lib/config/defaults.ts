/**
 * The defaults of configs/schema.json, for code that resolves a section without validateConfig:
 * the activities' own resolve functions (a stage run by `kiln clean`, tests, benchmarks) and the
 * kiln CLI's flags. No table of defaults lives anywhere else. Importable by workflow code: no
 * Node built-ins, the schema is imported as JSON (as lib/config/validate.ts does).
 */
import schema from '../../configs/schema.json' with { type: 'json' };
import type { PipelineConfig } from './types.js';

/** The config's sections: its object-valued properties (ingest, clean, ..., deploy). */
export type SectionName = { [K in keyof PipelineConfig]-?: PipelineConfig[K] extends object ? K : never }[keyof PipelineConfig];

/** The keys of T that are required: in the resolved config, those that have a schema default. */
type DefaultedKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? never : K }[keyof T];

/** What the schema's defaults give for a section: every field that has one (dedup's bands and rows have none). */
export type SectionDefaults<S extends SectionName> = Pick<PipelineConfig[S], DefaultedKeys<PipelineConfig[S]>>;

type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Everything the schema defaults: the top-level fields (not `name`) and each section. */
export type ConfigDefaults = Pick<PipelineConfig, 'seed' | 'artifacts'> & { [S in SectionName]: SectionDefaults<S> };

interface PropertySchema {
  type?: string | string[];
  default?: unknown;
  properties?: Record<string, PropertySchema>;
}

const ROOT = schema as unknown as PropertySchema & { properties: Record<string, PropertySchema> };

/** A JSON copy: callers may change what they get (the workflow sandbox has no structuredClone). */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The defaults of `properties`, as ajv's useDefaults fills them into an empty object (nested objects too). */
function defaultsOf(properties: Record<string, PropertySchema>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(properties)) {
    if (spec.default === undefined) continue;
    const value = copy(spec.default);
    out[key] = spec.properties && value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...defaultsOf(spec.properties), ...value } : value;
  }
  return out;
}

function sectionSchema(section: SectionName): PropertySchema & { properties: Record<string, PropertySchema> } {
  const spec = ROOT.properties[section];
  if (!spec?.properties) throw new Error(`configs/schema.json has no section ${section}`);
  return spec as PropertySchema & { properties: Record<string, PropertySchema> };
}

/** A fresh copy of a section's defaults, e.g. schemaDefaults('clean'): every clean setting. */
export function schemaDefaults<S extends SectionName>(section: S): SectionDefaults<S> {
  return defaultsOf(sectionSchema(section).properties) as SectionDefaults<S>;
}

/** Every field a section knows, defaulted or not, in schema order. */
export function sectionKeys(section: SectionName): string[] {
  return Object.keys(sectionSchema(section).properties);
}

function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}

/** Every default of the schema (frozen: copy before changing, or use schemaDefaults). */
export const DEFAULTS: DeepReadonly<ConfigDefaults> = deepFreeze(defaultsOf(ROOT.properties) as unknown as ConfigDefaults);

/** ingest.onBadFile's default: skip and count unreadable source files. */
export const DEFAULT_ON_BAD_FILE: PipelineConfig['ingest']['onBadFile'] = DEFAULTS.ingest.onBadFile;
/** ingest.maxDocumentBytes's default (10 MiB). */
export const DEFAULT_MAX_DOCUMENT_BYTES: PipelineConfig['ingest']['maxDocumentBytes'] = DEFAULTS.ingest.maxDocumentBytes;
/** The top-level seed's default, for CLI commands that run one stage. */
export const DEFAULT_SEED: number = DEFAULTS.seed;
