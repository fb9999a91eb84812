// The pipeline's activity proxies, one block per timeout profile. Workflow code takes activities
// as types only.
import { proxyActivities } from '@temporalio/workflow';
import { nonRetryableErrorTypes } from '../contracts/errors.js';
import { TASK_QUEUES } from '../contracts/workflows.js';
import type * as data from '../activities/data.js';
import type * as gpu from '../activities/gpu.js';

export type DataActivities = ReturnType<typeof data.createDataActivities>;
export type GpuActivities = ReturnType<typeof gpu.createGpuActivities>;

export const retry = { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes };

export const dataStage = proxyActivities<DataActivities>({
  taskQueue: TASK_QUEUES.data,
  startToCloseTimeout: '12 hours',
  // Data activities heartbeat while they work: a killed worker is noticed within this.
  heartbeatTimeout: '30 seconds',
  retry,
});

// Reports only read finished stages: fewer retries, since a failed report must not hold up the run.
export const reportStage = proxyActivities<DataActivities>({
  taskQueue: TASK_QUEUES.data,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { ...retry, maximumAttempts: 3 },
});

export const gpuStage = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '60 seconds',
  retry,
});
