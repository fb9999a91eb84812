/**
 * A stage's output is committed by its manifest: files first, `_MANIFEST.json` last. An activity
 * that finds a manifest with the same fingerprint returns it instead of redoing the work, so
 * retries are idempotent and re-runs are memoized. Manifests hold no timestamps: the same inputs
 * give byte-identical manifests.
 */
import { canonicalJson, fingerprintOf, sha256Hex } from './canonicalJson.js';
import type { ArtifactStore } from './storage/types.js';
import { CODE_VERSION } from './version.js';

export const MANIFEST_NAME = '_MANIFEST.json';
/** A stage's details beside its manifest (samples, histograms): too big for the manifest's stats. */
export const DETAILS_NAME = '_DETAILS.json';

export interface ManifestFile {
  uri: string;
  bytes: number;
  sha256: string;
  rows?: number;
}

export interface Manifest {
  stage: string;
  fingerprint: string;
  codeVersion: string;
  params: unknown;
  /** Upstream manifests' fingerprints or source files. */
  inputs: unknown[];
  outputs: ManifestFile[];
  stats: Record<string, unknown>;
}

/** What a stage returns to its workflow: references and small stats, never data. */
export interface StageResult {
  stage: string;
  fingerprint: string;
  dir: string;
  manifestUri: string;
  outputs: string[];
  stats: Record<string, unknown>;
  /** True when an existing manifest was reused instead of recomputing. */
  reused: boolean;
}

export function joinUri(base: string, ...parts: string[]): string {
  let out = base.replace(/\/+$/, '');
  for (const p of parts) out += '/' + p.replace(/^\/+/, '').replace(/\/+$/, '');
  return out;
}

export function stageFingerprint(stage: string, params: unknown, inputs: unknown[]): string {
  return fingerprintOf({ stage, codeVersion: CODE_VERSION, params, inputs });
}

/** Content-addressed output folder: same stage, params and inputs -> same folder. */
export function stageDir(artifactsRoot: string, stage: string, fingerprint: string): string {
  return joinUri(artifactsRoot, 'stages', stage, fingerprint.slice(0, 16));
}

export async function readManifest(store: ArtifactStore, dir: string): Promise<Manifest | null> {
  const uri = joinUri(dir, MANIFEST_NAME);
  if (!(await store.exists(uri))) return null;
  try {
    return JSON.parse(new TextDecoder().decode(await store.readBytes(uri))) as Manifest;
  } catch {
    return null; // a torn or foreign file is no commit marker: redo the stage
  }
}

export async function writeManifest(store: ArtifactStore, dir: string, manifest: Manifest): Promise<string> {
  const uri = joinUri(dir, MANIFEST_NAME);
  await store.writeBytes(uri, JSON.stringify(JSON.parse(canonicalJson(manifest)), null, 2) + '\n');
  return uri;
}

export function describeBytes(uri: string, data: Uint8Array, rows?: number): ManifestFile {
  return { uri, bytes: data.byteLength, sha256: sha256Hex(data), ...(rows === undefined ? {} : { rows }) };
}

export function toStageResult(dir: string, manifest: Manifest, reused: boolean): StageResult {
  return {
    stage: manifest.stage,
    fingerprint: manifest.fingerprint,
    dir,
    manifestUri: joinUri(dir, MANIFEST_NAME),
    outputs: manifest.outputs.map((o) => o.uri),
    stats: manifest.stats,
    reused,
  };
}

export interface StageWork {
  outputs: ManifestFile[];
  stats: Record<string, unknown>;
}

/** What names a stage's result: same stage, params and inputs, same folder and manifest. */
export interface StageIdentity {
  stage: string;
  params: unknown;
  inputs: unknown[];
}

export interface OpenedStage extends StageIdentity {
  fingerprint: string;
  dir: string;
  /** The committed result, when a run with the same identity has finished before. */
  reused?: StageResult;
}

/** Finds a stage's folder and whether it is committed already. */
export async function openStage(store: ArtifactStore, artifactsRoot: string, id: StageIdentity): Promise<OpenedStage> {
  const fingerprint = stageFingerprint(id.stage, id.params, id.inputs);
  const dir = stageDir(artifactsRoot, id.stage, fingerprint);
  const existing = await readManifest(store, dir);
  const reused = existing && existing.fingerprint === fingerprint ? toStageResult(dir, existing, true) : undefined;
  return { ...id, fingerprint, dir, reused };
}

/** Commits a stage's outputs: the manifest, written last, is what makes them visible. */
export async function commitStage(store: ArtifactStore, opened: Omit<OpenedStage, 'reused'>, { outputs, stats }: StageWork): Promise<StageResult> {
  const manifest: Manifest = {
    stage: opened.stage,
    fingerprint: opened.fingerprint,
    codeVersion: CODE_VERSION,
    params: opened.params,
    inputs: opened.inputs,
    outputs,
    stats,
  };
  await writeManifest(store, opened.dir, manifest);
  return toStageResult(opened.dir, manifest, false);
}

/**
 * A whole stage in one activity: reuse a committed result, or run `work`, which writes its files
 * into `dir` and returns their descriptions, then commit. Stages spread over several activities
 * (dedup, shard) call openStage and commitStage themselves.
 */
export async function runStage(opts: StageIdentity & { store: ArtifactStore; artifactsRoot: string; work: (dir: string) => Promise<StageWork> }): Promise<StageResult> {
  const opened = await openStage(opts.store, opts.artifactsRoot, opts);
  if (opened.reused) return opened.reused;
  return commitStage(opts.store, opened, await opts.work(opened.dir));
}
