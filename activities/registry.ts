/**
 * Registry activities: a pipeline run's exported model becomes a registry version with its
 * lineage, eval scores and deploy record. The version is the export stage's fingerprint (content
 * addressed), so a re-run that reuses the same export registers nothing new and only adds its
 * deploy record; the model name is the config's name.
 */
import type { StageResult } from '../lib/manifest.js';
import { registerVersion, updateVersion } from '../lib/registry/registry.js';
import type { EvalScores, ModelVersionRecord } from '../lib/registry/types.js';

export interface RegisterPipelineModelInput {
  artifactsRoot: string;
  /** The pipeline config's name: the registry's model name. */
  name: string;
  workflowId: string;
  exported: StageResult;
  tokenizer: StageResult;
  /** The data stages the model was trained on (ingest, clean, dedup, shard). */
  dataStages: StageResult[];
  train: { steps?: number; finalLoss?: number; checkpoint?: string; reportUri?: string };
  evaluation: StageResult;
  deployment: { endpoint: string; recordUri?: string; engine?: string };
  /** The version id: the deploy stage's (and so the gateway route's); default the export's short fingerprint. */
  version?: string;
}

function evalScores(evaluation: StageResult): EvalScores {
  const s = evaluation.stats as { languages?: EvalScores['languages']; passAtK?: Record<string, number>; metricsUri?: string };
  return {
    ...(s.languages ? { languages: Object.fromEntries(Object.entries(s.languages).map(([l, m]) => [l, { passAtK: m.passAtK, ...(m.problems !== undefined ? { problems: m.problems } : {}) }])) } : {}),
    ...(s.passAtK ? { passAtK: s.passAtK } : {}),
    ...(s.metricsUri ? { metricsUri: s.metricsUri } : {}),
  };
}

export async function registerPipelineModel(input: RegisterPipelineModelInput): Promise<{ version: string; created: boolean }> {
  const version = input.version ?? input.exported.fingerprint.slice(0, 16);
  const { created } = await registerVersion(input.artifactsRoot, {
    name: input.name,
    version,
    modelUri: input.exported.dir,
    lineage: {
      pipelineRunId: input.workflowId,
      dataManifests: input.dataStages.map((s) => ({ stage: s.stage, uri: s.manifestUri, fingerprint: s.fingerprint })),
      tokenizer: { uri: input.tokenizer.dir, fingerprint: input.tokenizer.fingerprint },
      training: input.train,
    },
    eval: evalScores(input.evaluation),
  });
  const at = new Date().toISOString();
  await updateVersion(input.artifactsRoot, input.name, version, (r: ModelVersionRecord) => {
    // Idempotent across activity retries: one record per endpoint and deploy record.
    if (r.deployments.some((d) => d.endpoint === input.deployment.endpoint && d.recordUri === input.deployment.recordUri)) return;
    r.deployments.push({ at, endpoint: input.deployment.endpoint, ...(input.deployment.engine ? { engine: input.deployment.engine } : {}), ...(input.deployment.recordUri ? { recordUri: input.deployment.recordUri } : {}) });
  });
  return { version, created };
}
