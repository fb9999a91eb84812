/**
 * modelRollout: the eval gate, then the candidate's traffic share in steps (5% -> 25% -> 50% ->
 * 100% by default). At each step the gateway's figures are read over a window (a workflow timer
 * between two /admin/stats snapshots) and a pure rule (lib/rollout/decide.ts, run in an activity so
 * that its result is recorded in history and a later change to the rule cannot break the replay of
 * a running rollout) promotes, holds (extends the window, bounded) or rolls back. Signals `promote`,
 * `rollback`, `pause`, `resume`; query `status`.
 *
 * History stays bounded without continue-as-new: a rollout has at most steps x (maxHolds + 2)
 * windows, each a timer and a couple of activities, so a few hundred events; a long pause waits in
 * a condition and adds none. Signals add one event each, and only people send them.
 */
import { ApplicationFailure, condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { GatewayRoute, GatewayStats } from '../contracts/gateway.js';
import { ErrorType, nonRetryableErrorTypes } from '../contracts/errors.js';
import {
  promoteSignal,
  rollbackSignal,
  ROLLOUT_DEFAULTS,
  rolloutStatusQuery,
  type DecisionLogEntry,
  type RolloutInput,
  type RolloutResult,
  type RolloutStatus,
  type RolloutThresholds,
} from '../contracts/rollout.js';
import { pauseSignal, resumeSignal, TASK_QUEUES } from '../contracts/workflows.js';
import type * as rollout from '../activities/rollout/index.js';
import type { RolloutWindow } from '../activities/rollout/report.js';

type RolloutActivities = ReturnType<typeof rollout.createRolloutActivities>;

// Gateway and registry calls are short; retries ride out a gateway restart.
const act = proxyActivities<RolloutActivities>({
  taskQueue: TASK_QUEUES.data,
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes },
});

function invalid(message: string): never {
  throw ApplicationFailure.create({ type: ErrorType.InvalidConfig, message, nonRetryable: true });
}

type ResolvedRollout = RolloutInput & { steps: number[]; windowSeconds: number; thresholds: RolloutThresholds; reportRoot: string };

/** The input with defaults filled, or a non-retryable failure naming the field. */
export function resolveRollout(input: RolloutInput): ResolvedRollout {
  for (const field of ['registryRoot', 'model', 'candidate', 'production', 'gatewayUrl'] as const) {
    if (typeof input?.[field] !== 'string' || input[field] === '') invalid(`\`${field}\` is required (a non-empty string).`);
  }
  const steps = input.steps ?? [5, 25, 50, 100];
  if (!Array.isArray(steps) || steps.length === 0 || steps.some((s, i) => typeof s !== 'number' || !(s > 0 && s <= 100) || (i > 0 && s <= steps[i - 1]!))) {
    invalid(`\`steps\` must be increasing percentages in (0, 100], got ${JSON.stringify(steps)}.`);
  }
  if (steps[steps.length - 1] !== 100) invalid(`\`steps\` must end at 100, got ${JSON.stringify(steps)}.`);
  const windowSeconds = input.windowSeconds ?? 300;
  if (!(typeof windowSeconds === 'number' && windowSeconds > 0)) invalid(`\`windowSeconds\` must be > 0, got ${String(windowSeconds)}.`);
  const thresholds = { ...ROLLOUT_DEFAULTS, ...(input.thresholds ?? {}) };
  for (const [k, v] of Object.entries(thresholds)) {
    if (k === 'requireEval' ? typeof v !== 'boolean' : !(typeof v === 'number' && v >= 0)) invalid(`\`thresholds.${k}\` must be ${k === 'requireEval' ? 'a boolean' : 'a number >= 0'}, got ${String(v)}.`);
  }
  if (!(thresholds.alpha > 0 && thresholds.alpha < 1)) invalid(`\`thresholds.alpha\` must be in (0, 1), got ${thresholds.alpha}.`);
  const safeId = workflowInfo().workflowId.replace(/[^A-Za-z0-9._-]/g, '_');
  const reportRoot = input.reportRoot ?? `${input.registryRoot.replace(/\/+$/, '')}/registry/rollouts/${input.model}/${safeId}`;
  return { ...input, steps, windowSeconds, thresholds, reportRoot };
}

export async function modelRollout(input: RolloutInput): Promise<RolloutResult> {
  const cfg = resolveRollout(input);
  const { workflowId } = workflowInfo();
  const status: RolloutStatus = {
    model: cfg.model,
    candidate: cfg.candidate,
    production: cfg.production,
    state: 'eval-gate',
    step: -1,
    steps: cfg.steps,
    arms: [
      { version: cfg.candidate, role: 'candidate', share: 0 },
      { version: cfg.production, role: 'production', share: 1 },
    ],
    languages: [],
    holds: 0,
    log: [],
  };
  let manual: { action: 'promote' | 'rollback'; reason: string } | undefined;
  let paused = false;
  const percent = () => (status.step >= 0 ? cfg.steps[status.step]! : 0);
  const log = (entry: Omit<DecisionLogEntry, 'step' | 'percent'>) => status.log.push({ step: status.step, percent: percent(), ...entry });

  setHandler(rolloutStatusQuery, () => status);
  setHandler(promoteSignal, () => {
    if (manual?.action !== 'rollback') manual = { action: 'promote', reason: 'promote signal' };
  });
  setHandler(rollbackSignal, (reason?: string) => {
    manual = { action: 'rollback', reason: reason ? `rollback signal: ${reason}` : 'rollback signal' };
  });
  setHandler(pauseSignal, () => {
    if (paused) return;
    paused = true;
    log({ action: 'pause', by: 'signal', reasons: ['automatic decisions suspended; weights stay as they are'] });
    if (status.state === 'observing') status.state = 'paused';
  });
  setHandler(resumeSignal, () => {
    if (!paused) return;
    paused = false;
    log({ action: 'resume', by: 'signal', reasons: [] });
    if (status.state === 'paused') status.state = 'observing';
  });

  const routes = (share: number, urls: { candidateUrl: string; productionUrl: string }): GatewayRoute[] => [
    ...(share < 1 ? [{ version: cfg.production, url: urls.productionUrl, weight: 1 - share, aliases: ['production'] }] : []),
    ...(share > 0 ? [{ version: cfg.candidate, url: urls.candidateUrl, weight: share, aliases: share < 1 ? ['canary'] : ['production'] }] : []),
  ];
  const setShare = (share: number) => {
    status.arms[0]!.share = share;
    status.arms[1]!.share = 1 - share;
  };

  const prepared = await act.rolloutPrepare({ ...cfg });
  log({ action: 'eval-gate', by: 'auto', reasons: prepared.evalGate.reasons });
  const windows: RolloutWindow[] = [];
  let first: GatewayStats | null = null;
  let outcome: RolloutResult['outcome'];
  let reasons: string[];

  if (!prepared.evalGate.pass) {
    outcome = 'rejected';
    reasons = [`eval gate failed: ${prepared.evalGate.reasons.join('; ')}`];
  } else {
    await act.rolloutRecordStart({ registryRoot: cfg.registryRoot, model: cfg.model, candidate: cfg.candidate, production: cfg.production, workflowId });
    status.state = paused ? 'paused' : 'observing';
    first = (await act.rolloutObserve({ gatewayUrl: cfg.gatewayUrl, since: null, candidate: cfg.candidate, production: cfg.production, thresholds: cfg.thresholds, holds: 0 })).snapshot;
    ({ outcome, reasons } = await runSteps());
  }

  async function runSteps(): Promise<{ outcome: 'promoted' | 'rolled-back'; reasons: string[] }> {
    for (let i = 0; i < cfg.steps.length; i++) {
      const share = cfg.steps[i]! / 100;
      await act.rolloutSetWeights({ gatewayUrl: cfg.gatewayUrl, routes: routes(share, prepared) });
      // The status moves to the step once the gateway has its weights.
      status.step = i;
      status.holds = 0;
      setShare(share);
      log({ action: 'start', by: 'auto', reasons: [`candidate at ${cfg.steps[i]}% of traffic`] });
      if (share === 1) {
        const last = [...status.log].reverse().find((e) => e.action === 'promote');
        return { outcome: 'promoted', reasons: [`candidate at 100% of traffic after ${i} observed step(s)`, ...(last?.reasons ?? [])] };
      }
      const since = (await act.rolloutObserve({ gatewayUrl: cfg.gatewayUrl, since: null, candidate: cfg.candidate, production: cfg.production, thresholds: cfg.thresholds, holds: 0 })).snapshot;
      for (;;) {
        const signalled = await condition(() => manual !== undefined, cfg.windowSeconds * 1000);
        if (!signalled && paused) await condition(() => !paused || manual !== undefined);
        if (manual?.action === 'rollback') {
          log({ action: 'rollback', by: 'signal', reasons: [manual.reason] });
          return { outcome: 'rolled-back', reasons: [manual.reason] };
        }
        const observed = await act.rolloutObserve({ gatewayUrl: cfg.gatewayUrl, since, candidate: cfg.candidate, production: cfg.production, thresholds: cfg.thresholds, holds: status.holds });
        const decision = observed.decision!;
        status.arms[0]!.figures = decision.candidate;
        status.arms[1]!.figures = decision.production;
        status.languages = decision.languages;
        const override = manual?.action; // a promote signal (rollback returned above)
        manual = undefined;
        windows.push({ step: i, percent: cfg.steps[i]!, holds: status.holds, from: since.now, to: observed.snapshot.now, decision, ...(override ? { override } : {}) });
        if (override === 'promote') {
          log({ action: 'promote', by: 'signal', reasons: ['promote signal', ...decision.reasons], at: observed.snapshot.now });
          break;
        }
        log({ action: decision.action, by: 'auto', reasons: decision.reasons, at: observed.snapshot.now });
        if (decision.action === 'promote') break;
        if (decision.action === 'rollback') return { outcome: 'rolled-back', reasons: decision.reasons };
        status.holds += 1; // hold: the window goes on from the same start, so data accumulates
      }
    }
    return { outcome: 'promoted', reasons: ['all steps passed'] };
  }

  if (outcome === 'rolled-back') {
    await act.rolloutSetWeights({ gatewayUrl: cfg.gatewayUrl, routes: routes(0, prepared) });
    setShare(0);
  }
  status.state = outcome;
  const { reportUri } = await act.rolloutFinish({
    registryRoot: cfg.registryRoot,
    reportRoot: cfg.reportRoot,
    gatewayUrl: cfg.gatewayUrl,
    model: cfg.model,
    candidate: cfg.candidate,
    production: cfg.production,
    workflowId,
    outcome,
    reasons,
    first,
    windows,
    status,
    thresholds: cfg.thresholds,
    evalGate: prepared.evalGate,
  });
  status.reportUri = reportUri;
  return { outcome, reasons, reportUri, status };
}
