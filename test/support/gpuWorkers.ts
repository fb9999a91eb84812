// In-process stand-ins for GPU worker processes: each polls the shared GPU queue (placement
// claims) and a queue of its own (`llm-gpu/<id>`, where gang nodes run), one task at a time,
// on a connection of its own (the SDK allows one worker per task queue per connection).
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createClaimWorker } from '../../activities/train/claim.js';
import { gangKey, NodeSlot } from '../../activities/train/nodeSlot.js';
import type { TrainNodeInput } from '../../contracts/training.js';
import { gpuWorkerQueue, TASK_QUEUES } from '../../contracts/workflows.js';

export async function runWithGpuWorkers<T>(
  opts: { address: string; client: Client; activities: object; ids?: string[] },
  body: () => Promise<T>,
): Promise<T> {
  const connections: NativeConnection[] = [];
  const workers: Worker[] = [];
  try {
    for (const workerId of opts.ids ?? ['w0', 'w1']) {
      // One gang per worker, as in workers/gpuWorker.ts: the stand-in node holds the slot as the real one does.
      const slot = new NodeSlot();
      const given = opts.activities as { trainNode?: (input: TrainNodeInput) => Promise<unknown> };
      const trainNode = given.trainNode && (async (input: TrainNodeInput) => {
        const key = gangKey(input.trainingWorkflowId, input.attempt);
        slot.occupy(key);
        try {
          return await given.trainNode!(input);
        } finally {
          slot.release(key);
        }
      });
      const activities = { claimWorker: createClaimWorker({ client: opts.client, workerId, slot }), ...opts.activities, ...(trainNode ? { trainNode } : {}) };
      const connection = await NativeConnection.connect({ address: opts.address });
      connections.push(connection);
      for (const taskQueue of [TASK_QUEUES.gpu, gpuWorkerQueue(workerId)]) {
        workers.push(
          await Worker.create({
            connection,
            taskQueue,
            activities,
            maxConcurrentActivityTaskExecutions: 1,
            defaultHeartbeatThrottleInterval: '500ms',
            maxHeartbeatThrottleInterval: '1 second',
          }),
        );
      }
    }
    const runAll = (i: number): Promise<T> => (i === workers.length ? body() : workers[i]!.runUntil(() => runAll(i + 1)));
    return await runAll(0);
  } finally {
    for (const c of connections) await c.close().catch(() => undefined);
  }
}
