// The modelRollout workflow's input, status, signals and query: imported by the workflow, its
// activities and clients (kiln rollout, tests). Types and constants only.
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Limits a rollout step must respect; every field has a default (ROLLOUT_DEFAULTS). */
export interface RolloutThresholds {
  /** Candidate errors / requests above this rolls back. Default 0.02. */
  maxErrorRate: number;
  /** Candidate p95 latency (ms) above this rolls back. Default 2000. */
  maxP95LatencyMs: number;
  /** Candidate p95 above production p95 times this rolls back. Default 1.5. */
  maxP95Ratio: number;
  /** Family-wise error rate of the per-language acceptance tests (Holm-corrected). Default 0.05. */
  alpha: number;
  /** Views per arm per language before that language counts as measured. Default 100. */
  minViews: number;
  /** Candidate requests in a window before its error rate and latency count. Default 50. */
  minRequests: number;
  /** Views per arm before a language is tested at all: the z-test's normal approximation needs them. Default 20. */
  minViewsToTest: number;
  /** Languages with fewer views (in both arms) than this are ignored, not waited for. Default 10. */
  ignoreBelowViews: number;
  /** Windows a step may be extended by while data is short before the rollout gives up. Default 3. */
  maxHolds: number;
  /** Eval gate: largest allowed drop of the candidate's pass@k in any language, percentage points. Default 2. */
  maxEvalDropPoints: number;
  /** Eval gate fails when either version has no eval scores (false: skipped, noted). Default true. */
  requireEval: boolean;
}

export const ROLLOUT_DEFAULTS: RolloutThresholds = {
  maxErrorRate: 0.02,
  maxP95LatencyMs: 2000,
  maxP95Ratio: 1.5,
  alpha: 0.05,
  minViews: 100,
  minRequests: 50,
  minViewsToTest: 20,
  ignoreBelowViews: 10,
  maxHolds: 3,
  maxEvalDropPoints: 2,
  requireEval: true,
};

export interface RolloutInput {
  /** Artifact store root of the registry (`file://...` or `s3://bucket/prefix`). */
  registryRoot: string;
  model: string;
  candidate: string;
  production: string;
  /** The gateway (admin API); its admin key comes from the worker's KILN_GATEWAY_ADMIN_KEY. */
  gatewayUrl: string;
  /** Candidate traffic per step, in percent, increasing, ending at 100. Default [5, 25, 50, 100]. */
  steps?: number[];
  /** Observation window per step, seconds. Default 300. */
  windowSeconds?: number;
  thresholds?: Partial<RolloutThresholds>;
  /** Engine URLs when the registry's deploy records lack them (or to override them). */
  candidateUrl?: string;
  productionUrl?: string;
  /** Where the A/B report goes. Default <registryRoot>/registry/rollouts/<model>/<workflow id>/. */
  reportRoot?: string;
}

export type RolloutAction = 'promote' | 'hold' | 'rollback';
export type RolloutState = 'eval-gate' | 'observing' | 'paused' | 'promoted' | 'rolled-back' | 'rejected';

/** One arm's figures over a window. */
export interface ArmFigures {
  version: string;
  requests: number;
  errors: number;
  errorRate: number;
  p50LatencyMs?: number;
  p95LatencyMs?: number;
  p99LatencyMs?: number;
  p95TtftMs?: number;
  views: number;
  accepts: number;
  /** accepts / views (undefined without views). */
  acceptance?: number;
}

export interface LanguageComparison {
  language: string;
  candidate: { views: number; accepts: number; rate?: number; low: number; high: number };
  production: { views: number; accepts: number; rate?: number; low: number; high: number };
  diff?: number;
  z?: number;
  pWorse?: number;
  pBetter?: number;
  /** After Holm's correction over the measured languages. */
  verdict: 'worse' | 'better' | 'no-difference' | 'not-enough-data' | 'ignored';
}

export interface RolloutDecision {
  action: RolloutAction;
  /** Why, one sentence each (all of them, also for promote). */
  reasons: string[];
  candidate: ArmFigures;
  production: ArmFigures;
  languages: LanguageComparison[];
}

export interface DecisionLogEntry {
  /** Index into steps, and the candidate's percentage then. */
  step: number;
  percent: number;
  action: RolloutAction | 'eval-gate' | 'start' | 'pause' | 'resume';
  /** `auto` (the decision rule) or `signal` (a person). */
  by: 'auto' | 'signal';
  reasons: string[];
  /** Gateway clock (ms) when the figures were read, when there were figures. */
  at?: number;
}

export interface RolloutStatus {
  model: string;
  candidate: string;
  production: string;
  state: RolloutState;
  step: number;
  steps: number[];
  arms: { version: string; role: 'candidate' | 'production'; share: number; figures?: ArmFigures }[];
  languages: LanguageComparison[];
  holds: number;
  log: DecisionLogEntry[];
  reportUri?: string;
}

export interface RolloutResult {
  outcome: 'promoted' | 'rolled-back' | 'rejected';
  reasons: string[];
  reportUri: string;
  status: RolloutStatus;
}

export const promoteSignal = defineSignal('promote');
export const rollbackSignal = defineSignal<[string?]>('rollback');
export const rolloutStatusQuery = defineQuery<RolloutStatus>('status');
