// The training run's state between gang attempts: its status (the `status` query), the rendezvous
// and placement claims of the current attempt, and the signals that change them.
import { CancellationScope, getExternalWorkflowHandle, patched, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { TrainingRunInput } from '../contracts/training.js';
import {
  claimSignal,
  kilnStageAttribute,
  kilnStepAttribute,
  pauseSignal,
  progressSignal,
  rendezvousQuery,
  rendezvousSignal,
  resumeSignal,
  statusQuery,
  trainingSummarySignal,
  type Rendezvous,
  type TrainingStatus,
  type WorkerClaim,
} from '../contracts/workflows.js';
import { applyProgress } from './progress.js';

/**
 * Continue as new once the history holds this many events: the stop (a checkpoint) and the
 * reports still arriving meanwhile keep a run under 10,000 events. Release 0.1.0 waited for 10,000.
 */
const DEFAULT_MAX_HISTORY_EVENTS = 8_000;
const HISTORY_PATCH = 'continue-as-new-at-8000';
/** Release 0.2.0: the run reports gang state changes to its parent (nodes no longer signal it). */
export const REPORT_PATCH = 'report-to-parent';
/** Release 0.3.0: a report older than the last applied one of the same gang is dropped. */
const ORDER_PATCH = 'progress-in-order';

export class TrainingTracker {
  readonly status: TrainingStatus;
  readonly rendezvous = new Map<number, Rendezvous>();
  readonly claims = new Map<number, WorkerClaim>();
  /** The running gang's scope, while there is one. */
  gang: CancellationScope | undefined;
  /** Set once the history is long: the gang checkpoints and the run continues as new. */
  continuing = false;
  private readonly maxHistory: number;
  private readonly stepStride: number;
  private publishedStep = -1;
  private readonly reportsToParent: boolean;
  private readonly ordersReports: boolean;
  /** The gang attempt of the last report applied. */
  private reportAttempt: number | undefined;

  constructor(input: TrainingRunInput) {
    this.status = input.carried?.status ?? {
      step: 0,
      totalSteps: Number(input.trainer.train.steps),
      paused: input.startPaused ?? false,
      attempts: 0,
      gangRestarts: 0,
    };
    const status = this.status;
    status.runs = (status.runs ?? 0) + 1;
    status.paused = input.startPaused ?? status.paused;
    this.maxHistory = input.maxHistoryEvents ?? (patched(HISTORY_PATCH) ? DEFAULT_MAX_HISTORY_EVENTS : 10_000);
    // The step as a search attribute, about 50 times per run (each upsert is a history event).
    this.stepStride = Math.max(1, Math.floor(status.totalSteps / 50));
    upsertSearchAttributes([{ key: kilnStageAttribute, value: 'train' }]);
    this.publishStep(true);
    this.reportsToParent = patched(REPORT_PATCH);
    this.ordersReports = patched(ORDER_PATCH);

    setHandler(statusQuery, () => status);
    setHandler(rendezvousSignal, (r) => void this.rendezvous.set(r.attempt, r));
    setHandler(rendezvousQuery, (attempt) => this.rendezvous.get(attempt) ?? null);
    setHandler(claimSignal, (c) => {
      if (c.attempt === status.attempts) this.claims.set(c.rank, c);
    });
    setHandler(progressSignal, (p) => {
      if (p.attempt !== undefined && p.attempt !== status.attempts) return; // a late report of an old gang
      // A report overtaken by a newer one of the same gang (signals sent concurrently, or retried)
      // must not move the step back.
      if (this.ordersReports && p.attempt !== undefined && p.attempt === this.reportAttempt && p.step < status.step) return;
      this.reportAttempt = p.attempt;
      applyProgress(status, p);
      this.publishStep();
      if (!this.continuing && this.historyIsLong()) {
        this.continuing = true;
        this.stopGang('checkpoint');
      }
    });
    setHandler(pauseSignal, () => {
      if (status.paused) return;
      status.paused = true;
      this.stopGang('checkpoint');
    });
    setHandler(resumeSignal, () => void (status.paused = false));
  }

  /**
   * Tells the parent pipeline the run's status: on gang state changes only (running, paused,
   * restarting, continuing as new), so the parent's history stays bounded however long the run.
   */
  report(): void {
    const parent = workflowInfo().parent;
    if (!this.reportsToParent || !parent) return;
    // A parent that is gone (terminated by hand) cannot hear it; training goes on.
    getExternalWorkflowHandle(parent.workflowId).signal(trainingSummarySignal, { ...this.status }).catch(() => undefined);
  }

  historyIsLong(): boolean {
    return workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= this.maxHistory;
  }

  publishStep(force = false): void {
    if (!force && this.publishedStep >= 0 && this.status.step - this.publishedStep < this.stepStride) return;
    this.publishedStep = this.status.step;
    upsertSearchAttributes([{ key: kilnStepAttribute, value: this.status.step }]);
  }

  /** Stops the running gang: `checkpoint` lets the trainer save first, `kill` does not wait. */
  stopGang(mode: 'checkpoint' | 'kill'): void {
    if (!this.gang) return;
    this.status.gang = 'stopping';
    if (mode === 'kill' || !this.status.stopMode) this.status.stopMode = mode;
    this.gang.cancel();
  }
}
