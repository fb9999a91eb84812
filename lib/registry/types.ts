/**
 * The model registry's records, one JSON object per model version and one aliases object per
 * model, in the artifact store:
 *   <root>/registry/models/<name>/<version>.json   ModelVersionRecord
 *   <root>/registry/models/<name>/_aliases.json    AliasesRecord (production, canary, ...)
 */

export const REGISTRY_SCHEMA = 1;

/** Where a version came from: enough to rebuild it or to explain it. */
export interface Lineage {
  /** The pipeline run that produced it (`<workflow id>` or `<workflow id>/<run id>`). */
  pipelineRunId?: string;
  /** The data stages it was trained on: manifest URIs and their fingerprints. */
  dataManifests: { stage: string; uri: string; fingerprint: string }[];
  tokenizer?: { uri: string; fingerprint?: string };
  training?: { steps?: number; finalLoss?: number; checkpoint?: string; reportUri?: string };
}

/** The eval's metrics as its metrics.json has them (activities/eval/report/compare.ts reads this shape). */
export interface EvalScores {
  /** Per language: pass@k (`{ "pass@1": 0.31 }`) and the problem count. */
  languages?: Record<string, { passAtK: Record<string, number>; problems?: number }>;
  /** Older, Python-only metrics. */
  passAtK?: Record<string, number>;
  /** The eval stage's metrics.json or results. */
  metricsUri?: string;
}

export interface DeployRecord {
  at: string;
  /** OpenAI-compatible base URL of the engine serving this version. */
  endpoint: string;
  engine?: string;
  recordUri?: string;
}

export interface RolloutRecord {
  workflowId: string;
  role: 'candidate' | 'production';
  outcome: 'started' | 'promoted' | 'rolled-back' | 'rejected';
  reasons: string[];
  at: string;
  reportUri?: string;
}

export interface ModelVersionRecord {
  schema: typeof REGISTRY_SCHEMA;
  name: string;
  version: string;
  createdAt: string;
  /** The exported Hugging Face folder. */
  modelUri: string;
  lineage: Lineage;
  eval?: EvalScores;
  deployments: DeployRecord[];
  rollouts: RolloutRecord[];
}

export interface AliasChange {
  revision: number;
  alias: string;
  from: string | null;
  to: string | null;
  at: string;
  reason: string;
}

export interface AliasesRecord {
  schema: typeof REGISTRY_SCHEMA;
  name: string;
  /** Bumped by every write: readers can tell two states apart. */
  revision: number;
  aliases: Record<string, string>;
  /** The last MAX_ALIAS_HISTORY changes, oldest first. */
  history: AliasChange[];
}

export const MAX_ALIAS_HISTORY = 200;

/** What a caller registers; the registry fills schema, createdAt and the empty lists. */
export type NewModelVersion = Omit<ModelVersionRecord, 'schema' | 'createdAt' | 'deployments' | 'rollouts'> &
  Partial<Pick<ModelVersionRecord, 'createdAt' | 'deployments' | 'rollouts'>>;
