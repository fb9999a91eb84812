/**
 * First activity of a run: turns relative `file://./x` URIs into absolute ones (against the
 * worker's working directory: the repo root under `kiln up`) and records the resolved config.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorType, fatal } from '../contracts/errors.js';
import type { PipelineConfig } from '../lib/config/types.js';
import { ConfigError } from '../lib/config/validate.js';
import { joinUri } from '../lib/manifest.js';
import { checkAllowedRoot } from '../lib/security/roots.js';
import { store } from '../lib/storage/index.js';

export function resolveUri(uri: string, base = process.cwd()): string {
  const m = /^file:\/\/(?!\/)(.*)$/.exec(uri);
  if (!m) return uri;
  return pathToFileURL(resolve(base, m[1]!)).href;
}

export function resolveConfigUris(config: PipelineConfig, base = process.cwd()): PipelineConfig {
  return {
    ...config,
    artifacts: resolveUri(config.artifacts, base).replace(/\/+$/, ''),
    ingest: { ...config.ingest, source: resolveUri(config.ingest.source, base) },
    eval: {
      ...config.eval,
      problems: resolveUri(config.eval.problems, base),
      problemsByLanguage: Object.fromEntries(Object.entries(config.eval.problemsByLanguage ?? {}).map(([lang, uri]) => [lang, uri && resolveUri(uri, base)])),
      gate: config.eval.gate?.baseline ? { ...config.eval.gate, baseline: resolveUri(config.eval.gate.baseline, base) } : config.eval.gate,
    },
  };
}

export async function prepareRun(input: { config: PipelineConfig; workflowId: string }): Promise<{ config: PipelineConfig; runUri: string }> {
  const config = resolveConfigUris(input.config);
  // Here, in the worker, whoever started the run: a client cannot bypass the check.
  try {
    checkAllowedRoot(config.artifacts, 'artifacts');
  } catch (err) {
    if (err instanceof ConfigError) throw fatal(ErrorType.InvalidConfig, err.message, { field: err.field });
    throw err;
  }
  const runUri = joinUri(config.artifacts, 'runs', input.workflowId.replace(/[^A-Za-z0-9._-]/g, '_'));
  await store.writeBytes(joinUri(runUri, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  return { config, runUri };
}
