/**
 * The modelRollout workflow's activities (data worker): read the registry and run the eval gate,
 * mark the canary, set the gateway's weights, read a window of gateway figures and decide, and at
 * the end write the A/B report and the outcome into the registry.
 */
import type { GatewayRoute, GatewayStats } from '../../contracts/gateway.js';
import { subtractStats } from '../../contracts/gateway.js';
import { ErrorType, fatal } from '../../contracts/errors.js';
import type { RolloutDecision, RolloutThresholds } from '../../contracts/rollout.js';
import { getAliases, getVersion, setAliases, updateVersion } from '../../lib/registry/registry.js';
import type { ModelVersionRecord, RolloutRecord } from '../../lib/registry/types.js';
import { decideStep } from '../../lib/rollout/decide.js';
import { evalGate as runEvalGate, type EvalGateResult } from './evalGate.js';
import { getGatewayStats, setGatewayRoutes } from './gateway.js';
import { writeRolloutReport, type ReportInput } from './report.js';

export interface PrepareInput {
  registryRoot: string;
  model: string;
  candidate: string;
  production: string;
  candidateUrl?: string;
  productionUrl?: string;
  thresholds: RolloutThresholds;
}

export interface Prepared {
  candidateUrl: string;
  productionUrl: string;
  evalGate: EvalGateResult;
}

function endpointOf(record: ModelVersionRecord, override: string | undefined, field: string): string {
  const url = override ?? record.deployments.at(-1)?.endpoint;
  if (!url) {
    throw fatal(ErrorType.InvalidInput, `Version ${record.version} of ${record.name} has no deploy record with an endpoint: deploy it first, or pass \`${field}\`.`);
  }
  return url;
}

/** Both versions' records (fatal when missing), their engines' URLs, and the eval gate's verdict. */
export async function rolloutPrepare(input: PrepareInput): Promise<Prepared> {
  if (input.candidate === input.production) throw fatal(ErrorType.InvalidInput, `The candidate and production versions are the same (${input.candidate}).`);
  const cand = await getVersion(input.registryRoot, input.model, input.candidate);
  const prod = await getVersion(input.registryRoot, input.model, input.production);
  let evalGate: EvalGateResult;
  if (cand.eval && prod.eval) {
    evalGate = runEvalGate(cand.eval, prod.eval, input.thresholds.maxEvalDropPoints);
  } else {
    const missing = [cand.eval ? null : input.candidate, prod.eval ? null : input.production].filter(Boolean).join(' and ');
    evalGate = input.thresholds.requireEval
      ? { pass: false, reasons: [`no eval scores in the registry for ${missing} (set thresholds.requireEval to false to skip the gate)`], deltas: [] }
      : { pass: true, reasons: [`eval gate skipped: no eval scores for ${missing}`], deltas: [] };
  }
  return {
    candidateUrl: endpointOf(cand, input.candidateUrl, 'candidateUrl'),
    productionUrl: endpointOf(prod, input.productionUrl, 'productionUrl'),
    evalGate,
  };
}

function addRollout(record: ModelVersionRecord, entry: RolloutRecord): void {
  // Idempotent: an activity retry must not record the same outcome twice.
  if (record.rollouts.some((r) => r.workflowId === entry.workflowId && r.outcome === entry.outcome)) return;
  record.rollouts.push(entry);
}

/** The candidate becomes the `canary` alias; both versions record that the rollout started. */
export async function rolloutRecordStart(input: { registryRoot: string; model: string; candidate: string; production: string; workflowId: string }): Promise<void> {
  const at = new Date().toISOString();
  await setAliases(input.registryRoot, input.model, { canary: input.candidate }, `rollout ${input.workflowId} started`);
  for (const [version, role] of [[input.candidate, 'candidate'], [input.production, 'production']] as const) {
    await updateVersion(input.registryRoot, input.model, version, (r) => addRollout(r, { workflowId: input.workflowId, role, outcome: 'started', reasons: [], at }));
  }
}

export interface ObserveInput {
  gatewayUrl: string;
  /** The window's first snapshot; null: only take a snapshot. */
  since: GatewayStats | null;
  candidate: string;
  production: string;
  thresholds: RolloutThresholds;
  holds: number;
}

/** A snapshot of the gateway's counters and, given the window's start, the decision on it. */
export async function rolloutObserve(input: ObserveInput): Promise<{ snapshot: GatewayStats; decision?: RolloutDecision }> {
  const snapshot = await getGatewayStats(input.gatewayUrl);
  if (input.since === null) return { snapshot };
  const window = subtractStats(snapshot, input.since);
  return { snapshot, decision: decideStep({ window, candidate: input.candidate, production: input.production, thresholds: input.thresholds, holds: input.holds }) };
}

export async function rolloutSetWeights(input: { gatewayUrl: string; routes: GatewayRoute[] }): Promise<void> {
  await setGatewayRoutes(input);
}

/** What the report takes, less the whole-rollout delta (computed here from `first`), plus where to write the outcome. */
export interface FinishInput extends Omit<ReportInput, 'total'> {
  registryRoot: string;
  gatewayUrl: string;
  /** The snapshot before the first step (null when the rollout never moved traffic). */
  first: GatewayStats | null;
}

/**
 * Writes the A/B report (figures over the whole rollout: the first snapshot to now), then the
 * outcome into the registry: promoted -> `production` = candidate and no `canary`, in one write;
 * rolled back or rejected -> no `canary`. Each version records the outcome and why.
 */
export async function rolloutFinish(input: FinishInput): Promise<{ reportUri: string }> {
  const last = input.first ? await getGatewayStats(input.gatewayUrl) : null;
  const total = input.first && last ? subtractStats(last, input.first) : null;
  const reportUri = await writeRolloutReport({ ...input, total });
  const at = new Date().toISOString();
  const why = `rollout ${input.workflowId}: ${input.outcome}`;
  if (input.outcome === 'promoted') {
    await setAliases(input.registryRoot, input.model, { production: input.candidate, canary: null }, why);
  } else {
    const aliases = await getAliases(input.registryRoot, input.model);
    if (aliases.aliases.canary === input.candidate) await setAliases(input.registryRoot, input.model, { canary: null }, `${why}: ${input.reasons.join('; ')}`);
  }
  for (const [version, role] of [[input.candidate, 'candidate'], [input.production, 'production']] as const) {
    await updateVersion(input.registryRoot, input.model, version, (r) => addRollout(r, { workflowId: input.workflowId, role, outcome: input.outcome, reasons: input.reasons, at, reportUri }));
  }
  return { reportUri };
}

export function createRolloutActivities() {
  return { rolloutPrepare, rolloutRecordStart, rolloutObserve, rolloutSetWeights, rolloutFinish };
}
