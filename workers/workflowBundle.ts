import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';

/** Path of the module that exports every workflow (bundled by the worker for its sandbox). */
export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * Options of every workflow worker. The SDK's default isolate timeout (5 s) is a deadlock
 * detector, but when it fires the V8 termination can leave Node's async-hook stack corrupt and
 * the whole worker process dies ("async hook stack has become corrupted", sdk-typescript#939).
 * A workflow thread that shares its cores with CPU-bound data activities (as the data worker's
 * does) or replays a long history after a cache eviction can pass 5 s without any deadlock, so
 * kiln allows 60 s: a real deadlock still fails its task, a slow machine no longer kills workers.
 * The SDK reads this option (WorkerOptionsWithDefaults) though its public type leaves it out.
 */
export const workflowWorkerOptions = {
  isolateExecutionTimeout: process.env.KILN_WORKFLOW_ISOLATE_TIMEOUT ?? '60s',
} as Partial<WorkerOptions>;
