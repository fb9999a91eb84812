/**
 * The model registry: versions with their lineage, eval scores, deploy and rollout records, and
 * aliases (`production`, `canary`), kept in the artifact store (file:// or s3://) so that it
 * needs no database and travels with the artifacts. Every write is a compare-and-swap
 * (conditional.ts): versions are created once (a retry of the same registration is a no-op) and
 * updated by read-modify-write; all alias changes of one call land in a single write.
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { joinUri } from '../manifest.js';
import { store } from '../storage/index.js';
import { readTagged, updateJson, writeIfUnchanged } from './conditional.js';
import { MAX_ALIAS_HISTORY, REGISTRY_SCHEMA, type AliasesRecord, type ModelVersionRecord, type NewModelVersion } from './types.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const ALIASES_FILE = '_aliases.json';

export function checkName(what: 'model name' | 'version' | 'alias', value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw fatal(ErrorType.InvalidInput, `Expected the ${what} to be 1-128 letters, digits, '.', '_' or '-' (not starting with a symbol), got \`${String(value)}\`.`);
  }
  return value;
}

export function modelsPrefix(root: string): string {
  return joinUri(root.replace(/\/+$/, ''), 'registry', 'models');
}
export function versionUri(root: string, name: string, version: string): string {
  return joinUri(modelsPrefix(root), checkName('model name', name), `${checkName('version', version)}.json`);
}
export function aliasesUri(root: string, name: string): string {
  return joinUri(modelsPrefix(root), checkName('model name', name), ALIASES_FILE);
}

function encode(value: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8'));
}

/** The same model: same artifact, or (for artifacts not content-addressed) the same lineage. */
function sameOrigin(a: ModelVersionRecord, b: NewModelVersion): boolean {
  return a.modelUri === b.modelUri;
}

/**
 * Registers a version. Registering the same version again with the same model URI returns the
 * stored record, first lineage kept (an activity retry, or a re-run that reused the export); a
 * different model under a taken version is refused.
 */
export async function registerVersion(root: string, input: NewModelVersion, now = new Date()): Promise<{ record: ModelVersionRecord; created: boolean }> {
  const uri = versionUri(root, input.name, input.version);
  const record: ModelVersionRecord = {
    schema: REGISTRY_SCHEMA,
    createdAt: now.toISOString(),
    deployments: [],
    rollouts: [],
    ...input,
  };
  if (await writeIfUnchanged(uri, encode(record), null)) return { record, created: true };
  const existing = await getVersion(root, input.name, input.version);
  if (!sameOrigin(existing, input)) {
    throw fatal(
      ErrorType.InvalidInput,
      `Model ${input.name} already has a version ${input.version} for another model (${existing.modelUri}); register the new one under another version.`,
    );
  }
  return { record: existing, created: false };
}

export async function getVersion(root: string, name: string, version: string): Promise<ModelVersionRecord> {
  const tagged = await readTagged(versionUri(root, name, version));
  if (tagged === null) throw fatal(ErrorType.NotFound, `Model ${name} has no version ${version} in the registry at ${root} (see \`kiln models list --root ${root}\`).`);
  return JSON.parse(Buffer.from(tagged.bytes).toString('utf8')) as ModelVersionRecord;
}

/** Applies `change` to a version record (compare-and-swap, retried on conflicts). */
export async function updateVersion(root: string, name: string, version: string, change: (record: ModelVersionRecord) => void): Promise<ModelVersionRecord> {
  const uri = versionUri(root, name, version);
  const updated = await updateJson<ModelVersionRecord>(uri, (current) => {
    if (current === null) return undefined;
    change(current);
    return current;
  });
  if (updated === null) throw fatal(ErrorType.NotFound, `Model ${name} has no version ${version} in the registry at ${root}.`);
  return updated;
}

/** Model names in the registry, sorted. */
export async function listModels(root: string): Promise<string[]> {
  const prefix = `${modelsPrefix(root)}/`;
  const names = new Set<string>();
  for (const o of await store.list(prefix)) {
    const rel = decodeURIComponent(o.uri.slice(o.uri.indexOf('/registry/models/') + '/registry/models/'.length));
    const [name, file] = rel.split('/');
    if (name && file?.endsWith('.json')) names.add(name);
  }
  return [...names].sort();
}

/** Every version of a model, oldest first (by createdAt, then version). */
export async function listVersions(root: string, name: string): Promise<ModelVersionRecord[]> {
  const prefix = `${joinUri(modelsPrefix(root), checkName('model name', name))}/`;
  const records: ModelVersionRecord[] = [];
  for (const o of await store.list(prefix)) {
    const file = decodeURIComponent(o.uri.slice(o.uri.lastIndexOf('/') + 1));
    if (!file.endsWith('.json') || file === ALIASES_FILE || file.endsWith('.lock')) continue;
    records.push(JSON.parse(Buffer.from(await store.readBytes(o.uri)).toString('utf8')) as ModelVersionRecord);
  }
  return records.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.version < b.version ? -1 : 1));
}

function emptyAliases(name: string): AliasesRecord {
  return { schema: REGISTRY_SCHEMA, name, revision: 0, aliases: {}, history: [] };
}

export async function getAliases(root: string, name: string): Promise<AliasesRecord> {
  const tagged = await readTagged(aliasesUri(root, name));
  return tagged ? (JSON.parse(Buffer.from(tagged.bytes).toString('utf8')) as AliasesRecord) : emptyAliases(name);
}

/**
 * Points aliases at versions (null removes one), all in one compare-and-swap write, so readers see
 * either none or all of the changes (promotion moves `production` and drops `canary` together).
 * Versions must exist. A call that changes nothing writes nothing.
 */
export async function setAliases(root: string, name: string, changes: Record<string, string | null>, reason: string, now = new Date()): Promise<AliasesRecord> {
  for (const [alias, version] of Object.entries(changes)) {
    checkName('alias', alias);
    if (version !== null) await getVersion(root, name, version);
  }
  const at = now.toISOString();
  const result = await updateJson<AliasesRecord>(aliasesUri(root, name), (current) => {
    const next = current ?? emptyAliases(name);
    const changed = Object.entries(changes).filter(([alias, to]) => (next.aliases[alias] ?? null) !== to);
    if (changed.length === 0) return undefined;
    next.revision += 1;
    for (const [alias, to] of changed) {
      next.history.push({ revision: next.revision, alias, from: next.aliases[alias] ?? null, to, at, reason });
      if (to === null) delete next.aliases[alias];
      else next.aliases[alias] = to;
    }
    next.history = next.history.slice(-MAX_ALIAS_HISTORY);
    return next;
  });
  return result ?? emptyAliases(name);
}
