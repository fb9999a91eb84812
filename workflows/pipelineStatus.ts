// The pipeline's status (the `status` query), its pause/resume handling, and the per-stage wrapper
// that keeps the status and the KilnStage search attribute current.
import { setHandler, upsertSearchAttributes, type ChildWorkflowHandle } from '@temporalio/workflow';
import type { PipelineConfig } from '../lib/config/types.js';
import type { StageResult } from '../lib/manifest.js';
import {
  kilnStageAttribute,
  pauseSignal,
  progressSignal,
  resumeSignal,
  STAGES,
  statusQuery,
  trainingSummarySignal,
  type PipelineStatus,
  type StageName,
} from '../contracts/workflows.js';
import { applyProgress } from './progress.js';
import type { trainingRun } from './training.js';

export class PipelineTracker {
  readonly status: PipelineStatus;
  /** The running training child, while there is one: pause and resume are forwarded to it. */
  training: ChildWorkflowHandle<typeof trainingRun> | undefined;

  constructor(config: PipelineConfig) {
    this.status = {
      name: config.name,
      stage: 'validate',
      stages: Object.fromEntries(STAGES.map((s) => [s, 'pending'])) as PipelineStatus['stages'],
      paused: false,
      train: { step: 0, totalSteps: config.train.steps, paused: false, attempts: 0, gangRestarts: 0 },
      results: {},
    };
    setHandler(statusQuery, () => this.status);
    // What the training run reports when its gang changes state (release 0.2.0 on).
    setHandler(trainingSummarySignal, (summary) => {
      this.status.train = { ...summary, workflowId: this.status.train.workflowId };
    });
    // Nodes of release 0.1.0 signalled every progress report here too; runs started then still may.
    setHandler(progressSignal, (p) => {
      applyProgress(this.status.train, p);
      if (p.attempt !== undefined && p.attempt > this.status.train.attempts) this.status.train.attempts = p.attempt;
    });
    // Outside training, pause and resume are remembered and applied when training starts.
    setHandler(pauseSignal, () => this.forward(true));
    setHandler(resumeSignal, () => this.forward(false));
  }

  forward(paused: boolean): void {
    this.status.paused = this.status.train.paused = paused;
    // A child that already finished cannot take signals; that is fine.
    this.training?.signal(paused ? pauseSignal : resumeSignal).catch(() => undefined);
  }

  /** Runs one stage, keeping the status and the search attribute current. */
  async stage<T>(name: StageName, run: () => Promise<T>): Promise<T> {
    this.status.stage = name;
    upsertSearchAttributes([{ key: kilnStageAttribute, value: name }]);
    this.status.stages[name] = 'running';
    try {
      const result = await run();
      const r = result as Partial<StageResult>;
      this.status.stages[name] = r.reused ? 'reused' : 'done';
      if (r.dir) this.status.results[name] = { dir: r.dir, stats: r.stats };
      return result;
    } catch (err) {
      this.status.stages[name] = 'failed';
      this.finish('failed');
      throw err;
    }
  }

  finish(stage: 'done' | 'failed'): void {
    this.status.stage = stage;
    upsertSearchAttributes([{ key: kilnStageAttribute, value: stage }]);
  }
}
