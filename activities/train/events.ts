/**
 * The trainer's JSON-line events folded into the node's progress: the heartbeat details, progress
 * signals (at most one per progressEverySeconds), rank 0's metrics log, and an upload of every
 * checkpoint the trainer writes, one after another in step order, while training goes on; an
 * upload rides out an outage of the artifact store (uploadCheckpointPatiently).
 */
import type { TrainNodeInput } from '../../contracts/training.js';
import type { TrainProgress } from '../../contracts/workflows.js';
import type { ToolEvent } from '../../lib/pythonTool.js';
import { uploadCheckpointPatiently } from './checkpoints.js';
import type { CommitGuard } from './fence.js';
import { MetricsLog } from './metrics.js';
import { recordTrainingStep, TrainingRate } from '../../lib/observability/metrics.js';

export interface ProgressReport {
  heartbeat(): void;
  signalProgress(): Promise<void>;
  /** A checkpoint upload failed and waits `delayMs` before try `attempt + 1` (the store is out). */
  uploadRetry?(err: unknown, attempt: number, delayMs: number): void;
}

export class TrainerEvents {
  /** The trainer's last word: its `done` or `stopped` event. */
  final: ToolEvent | undefined;
  /** The newest checkpoint in the artifact store: the one resumed from until an upload ends. */
  lastUploaded: string | undefined;
  /** The checkpoint uploads, chained; rejects with the first failure. */
  uploads: Promise<unknown> = Promise.resolve();
  private lastSignal = 0;
  private readonly metrics: MetricsLog | undefined;
  private readonly rate = new TrainingRate();

  constructor(
    private readonly input: TrainNodeInput,
    private readonly progress: TrainProgress,
    resumedFrom: string | undefined,
    private readonly report: ProgressReport,
    /** The node's permission to commit (fence.ts); once fenced it uploads nothing, metrics included. */
    private readonly guard?: CommitGuard,
  ) {
    this.lastUploaded = resumedFrom;
    this.metrics = input.rank === 0 ? new MetricsLog(input.checkpointsUri, input.attempt) : undefined;
  }

  fold(e: ToolEvent, now: number): void {
    this.metrics?.add(e);
    if (e.event === 'step') {
      Object.assign(this.progress, {
        step: Number(e.step),
        loss: Number(e.loss),
        tokensPerS: e.tokens_per_s === undefined ? undefined : Number(e.tokens_per_s),
      });
      // The worker's Prometheus gauges (lib/observability), labelled by the training workflow.
      const { step, loss, tokensPerS } = this.progress;
      recordTrainingStep(this.input.trainingWorkflowId, { step, loss, tokensPerS, stepsPerS: this.rate.observe(step, now) });
      if (now - this.lastSignal >= this.input.progressEverySeconds * 1000 || this.lastSignal === 0) {
        this.lastSignal = now;
        void this.report.signalProgress();
      }
    } else if (e.event === 'eval') {
      this.progress.valLoss = Number(e.val_loss);
    } else if (e.event === 'checkpoint') {
      this.upload(String(e.path));
    } else if (e.event === 'done' || e.event === 'stopped') {
      this.final = e;
    }
  }

  private upload(local: string): void {
    const flushed = this.flushMetrics();
    this.uploads = this.uploads.then(async () => {
      const uri = await uploadCheckpointPatiently(local, this.input.checkpointsUri, {
        onRetry: (err, n, ms) => this.report.uploadRetry?.(err, n, ms),
        guard: this.guard,
      });
      await flushed;
      if (uri === undefined) return; // pruned by the trainer while the store was out: a newer one follows
      this.lastUploaded = uri;
      this.progress.lastCheckpoint = this.lastUploaded;
      this.report.heartbeat();
      await this.report.signalProgress();
    });
  }

  /** Waits for the uploads and a last metrics flush; their failures are ignored here (`uploads` keeps them). */
  async settle(): Promise<void> {
    await Promise.all([this.uploads.catch(() => undefined), this.flushMetrics()?.catch(() => undefined)]);
  }

  private flushMetrics(): Promise<void> | undefined {
    return this.guard?.fenced ? undefined : this.metrics?.flush();
  }
}
