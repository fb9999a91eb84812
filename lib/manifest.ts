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

/**
 * Runs `work` unless a valid manifest for this fingerprint exists. `work` writes its files into
 * `dir` and returns their descriptions; the manifest is written last.
 */
export async function runStage(opts: {
  store: ArtifactStore;
  artifactsRoot: string;
  stage: string;
  params: unknown;
  inputs: unknown[];
  work: (dir: string) => Promise<StageWork>;
}): Promise<StageResult> {
  const fingerprint = stageFingerprint(opts.stage, opts.params, opts.inputs);
  const dir = stageDir(opts.artifactsRoot, opts.stage, fingerprint);
  const existing = await readManifest(opts.store, dir);
  if (existing && existing.fingerprint === fingerprint) return toStageResult(dir, existing, true);
  const { outputs, stats } = await opts.work(dir);
  const manifest: Manifest = {
    stage: opts.stage,
    fingerprint,
    codeVersion: CODE_VERSION,
    params: opts.params,
    inputs: opts.inputs,
    outputs,
    stats,
  };
  await writeManifest(opts.store, dir, manifest);
  return toStageResult(dir, manifest, false);
}
