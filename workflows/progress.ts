import type { TrainingStatus, TrainProgress } from '../contracts/workflows.js';

/** Folds a progress report into a training status (the training run's, or the pipeline's copy). */
export function applyProgress(status: TrainingStatus, p: TrainProgress): void {
  if (p.loss !== undefined && (status.firstLossStep === undefined || p.step < status.firstLossStep)) {
    status.firstLoss = p.loss;
    status.firstLossStep = p.step;
  }
  Object.assign(status, { ...p, lastCheckpoint: p.lastCheckpoint ?? status.lastCheckpoint });
}
