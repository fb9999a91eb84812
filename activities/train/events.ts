/**
 * The trainer's JSON-line events folded into the node's progress: the heartbeat details, progress
 * signals (at most one per progressEverySeconds), rank 0's metrics log, and an upload of every
 * checkpoint the trainer writes, one after another in step order, while training goes on.
 */
import type { TrainNodeInput } from '../../contracts/training.js';
import type { TrainProgress } from '../../contracts/workflows.js';
import type { ToolEvent } from '../../lib/pythonTool.js';
import { uploadCheckpoint } from './checkpoints.js';
import { MetricsLog } from './metrics.js';

export interface ProgressReport {
  heartbeat(): void;
  signalProgress(): Promise<void>;
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

  constructor(
    private readonly input: TrainNodeInput,
    private readonly progress: TrainProgress,
    resumedFrom: string | undefined,
    private readonly report: ProgressReport,
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
    const flushed = this.metrics?.flush();
    this.uploads = this.uploads.then(async () => {
      this.lastUploaded = await uploadCheckpoint(local, this.input.checkpointsUri);
      await flushed;
      this.progress.lastCheckpoint = this.lastUploaded;
      this.report.heartbeat();
      await this.report.signalProgress();
    });
  }

  /** Waits for the uploads and a last metrics flush; their failures are ignored here (`uploads` keeps them). */
  async settle(): Promise<void> {
    await Promise.all([this.uploads.catch(() => undefined), this.metrics?.flush().catch(() => undefined)]);
  }
}
