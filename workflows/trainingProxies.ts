// The training run's activity proxies: placement claims, the node on one worker's own queue,
// and the short GPU-queue activities (latest checkpoint, report).
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors.js';
import { TASK_QUEUES } from '../contracts/workflows.js';
import type { GpuActivities } from './proxies.js';

export const { claimWorker } = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '7 days', // a claim waits here until every rank has a worker
  heartbeatTimeout: '15 seconds',
  // A claim lost with its worker is simply taken again by another one.
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

/**
 * Release 0.3.0: claims whose cancellation the workflow waits for, so that a placement given up
 * has let go of its workers (and sent its last claim signal) before the next one starts.
 */
export const { claimWorker: claimWorkerReleasing } = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '7 days',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** The node activity on one worker's own queue. */
export function nodeOn(taskQueue: string, heartbeatTimeoutSeconds: number) {
  return proxyActivities<GpuActivities>({
    taskQueue,
    // The claiming worker died before its node started: treat as a lost node.
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '7 days',
    // Heartbeats come from the worker every second: this is how long a dead worker goes unnoticed.
    heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds`,
    // The gang is restarted as a whole by this workflow, never one node alone.
    retry: { maximumAttempts: 1 },
    // Wait for the node to checkpoint (or be killed) before the scope counts as cancelled, so the
    // next gang finds its ports, GPUs and folders free.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  }).trainNode;
}

export const { latestCheckpoint, trainingReport } = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: [ErrorType.NotFound, ErrorType.AccessDenied] },
});

/**
 * Release 0.4.0: the checkpoint lookup after a lost gang gets 30 s a try, not 10 min. A GPU worker
 * cut off by a network partition still has a long poll open on `llm-gpu`; the server may hand it
 * this task, which then never runs: the next try (on a worker that can hear) comes 30 s later.
 * Listing a run's checkpoints takes seconds even for thousands of them.
 */
export const { latestCheckpoint: latestCheckpointBounded } = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: [ErrorType.NotFound, ErrorType.AccessDenied] },
});
