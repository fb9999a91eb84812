/**
 * Writes lib/config/types.ts from configs/schema.json (json-schema-to-typescript): the RESOLVED
 * config that validateConfig returns. Usage: npm run gen:config
 *
 * What the schema says is turned into the resolved type before generation:
 *  - a property with a `default` is required (validateConfig fills it); one without stays optional;
 *  - `$schema` is dropped (validateConfig deletes it);
 *  - the root and each section get a name (PipelineConfig, IngestConfig, CleanConfig, ...).
 * test/config/generatedTypes.test.ts runs generateConfigTypes() and fails when the file differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compile, type JSONSchema } from 'json-schema-to-typescript';

const ROOT = new URL('../', import.meta.url);
export const SCHEMA_PATH = 'configs/schema.json';
export const TYPES_PATH = 'lib/config/types.ts';
export const GENERATE_COMMAND = 'npm run gen:config';

/** Section property -> the name of its generated interface. */
const SECTION_NAMES: Record<string, string> = {
  ingest: 'IngestConfig',
  clean: 'CleanConfig',
  dedup: 'DedupConfig',
  tokenizer: 'TokenizerConfig',
  shard: 'ShardConfig',
  model: 'ModelConfig',
  train: 'TrainConfig',
  eval: 'EvalConfig',
  deploy: 'DeployConfig',
};

/** Other named sub-schemas: JSON pointer-ish path from the root -> interface name. */
const NESTED_NAMES: Record<string, string> = {
  'clean.perExtension.additionalProperties': 'ExtensionThresholds',
  'train.tracking': 'TrackingConfig',
  'train.tracking.wandb': 'WandbConfig',
};

const BANNER = `// GENERATED from ${SCHEMA_PATH} by scripts/gen-config-types.ts: do not edit.
// Regenerate with \`${GENERATE_COMMAND}\` after changing the schema (test/config/generatedTypes.test.ts
// fails while this file is out of date).
//
// The RESOLVED pipeline config, as validateConfig returns it: every property that has a default in
// the schema is required here because validation fills it in; properties without one stay optional.`;

type Schema = JSONSchema & { properties?: Record<string, Schema>; additionalProperties?: boolean | Schema; required?: string[] | boolean };

/** Every property with a default becomes required, at every level; leaf defaults go in the doc comment. */
function resolved(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, withDefaultDoc(resolved(v))]));
    const required = new Set(Array.isArray(schema.required) ? schema.required : []);
    for (const [k, v] of Object.entries(schema.properties)) if (v.default !== undefined) required.add(k);
    out.required = Object.keys(schema.properties).filter((k) => required.has(k));
  }
  if (typeof schema.additionalProperties === 'object') out.additionalProperties = resolved(schema.additionalProperties);
  if (schema.items && !Array.isArray(schema.items)) out.items = resolved(schema.items as Schema);
  return out;
}

/** `@default <value>` after the description (sections, whose default is `{}`, excepted). */
function withDefaultDoc(schema: Schema): Schema {
  if (schema.default === undefined || schema.type === 'object') return schema;
  const tag = `@default ${JSON.stringify(schema.default)}`;
  return { ...schema, description: schema.description ? `${schema.description}\n\n${tag}` : tag };
}

function at(schema: Schema, path: string): Schema {
  let cur: Schema = schema;
  for (const part of path.split('.')) {
    const next: Schema | undefined = part === 'additionalProperties' ? (cur.additionalProperties as Schema) : cur.properties?.[part];
    if (!next || typeof next !== 'object') throw new Error(`${SCHEMA_PATH}: no sub-schema at ${path}`);
    cur = next;
  }
  return cur;
}

/** The schema as json-schema-to-typescript should see it: resolved, named, without `$schema`. */
export function typeSchema(schema: Schema): Schema {
  const out = resolved(schema);
  const { $schema: _dropped, ...properties } = out.properties!;
  out.properties = properties;
  out.required = (out.required as string[]).filter((k) => k in properties);
  out.title = 'PipelineConfig';
  delete out.$id; // would otherwise name the root type after the URL
  for (const [section, name] of Object.entries(SECTION_NAMES)) at(out, section).title = name;
  for (const [path, name] of Object.entries(NESTED_NAMES)) at(out, path).title = name;
  return out;
}

/** lib/config/types.ts as it should be for `schema` (the parsed configs/schema.json). */
export async function generateConfigTypes(schema: Schema = JSON.parse(readFileSync(new URL(SCHEMA_PATH, ROOT), 'utf8')) as Schema): Promise<string> {
  return compile(typeSchema(schema), 'PipelineConfig', {
    bannerComment: BANNER,
    additionalProperties: false,
    strictIndexSignatures: true,
    unknownAny: true,
    format: true,
    style: { printWidth: 120, singleQuote: true, trailingComma: 'all' },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await generateConfigTypes();
  writeFileSync(new URL(TYPES_PATH, ROOT), text);
  process.stdout.write(`wrote ${TYPES_PATH}\n`);
}
