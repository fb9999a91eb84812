// The training run's state between gang attempts: its status (the `status` query), the rendezvous
// and placement claims of the current attempt, and the signals that change them.
import { CancellationScope, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
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
  type Rendezvous,
  type TrainingStatus,
  type WorkerClaim,
} from '../contracts/workflows.js';
import { applyProgress } from './progress.js';

const DEFAULT_MAX_HISTORY_EVENTS = 10_000;

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
    this.maxHistory = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
    // The step as a search attribute, about 50 times per run (each upsert is a history event).
    this.stepStride = Math.max(1, Math.floor(status.totalSteps / 50));
    upsertSearchAttributes([{ key: kilnStageAttribute, value: 'train' }]);
    this.publishStep(true);

    setHandler(statusQuery, () => status);
    setHandler(rendezvousSignal, (r) => void this.rendezvous.set(r.attempt, r));
    setHandler(rendezvousQuery, (attempt) => this.rendezvous.get(attempt) ?? null);
    setHandler(claimSignal, (c) => {
      if (c.attempt === status.attempts) this.claims.set(c.rank, c);
    });
    setHandler(progressSignal, (p) => {
      if (p.attempt !== undefined && p.attempt !== status.attempts) return; // a late report of an old gang
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
