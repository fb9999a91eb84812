/**
 * A GPU worker: one per GPU node. Runs one gang node at a time (torchrun owns the node's GPUs),
 * export, generation and deployment. It polls the shared GPU queue and a queue of its own
 * (`llm-gpu/<host id>`) for work routed to this host. Falls back to CPU (gloo) without CUDA.
 */
import { hostname } from 'node:os';
import { Worker } from '@temporalio/worker';
import { createGpuActivities } from '../activities/gpu.js';
import { stopServers } from '../activities/deploy.js';
import { TASK_QUEUES } from '../workflows/definitions.js';
import { connectClient, connectWorker, temporalNamespace } from './connection.js';

async function main(): Promise<void> {
  const connection = await connectWorker();
  const client = await connectClient();
  const namespace = temporalNamespace();
  const hostId = process.env.KILN_WORKER_ID ?? `${hostname()}-${process.pid}`;
  const activities = createGpuActivities({ client, nodeAddr: process.env.KILN_NODE_ADDR ?? '127.0.0.1' });
  const workers = await Promise.all(
    [TASK_QUEUES.gpu, `${TASK_QUEUES.gpu}/${hostId}`].map((taskQueue) =>
      Worker.create({
        connection,
        namespace,
        taskQueue,
        activities,
        maxConcurrentActivityTaskExecutions: 1,
        // Cancellation (pause, a lost peer) reaches a node on its next heartbeat: keep them frequent
        // so a pause costs seconds of training, not the SDK's default 30.
        defaultHeartbeatThrottleInterval: '1 second',
        maxHeartbeatThrottleInterval: '2 seconds',
      }),
    ),
  );
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, stopServers);
  process.once('exit', stopServers);
  console.error(`[gpu-worker ${hostId}] polling ${TASK_QUEUES.gpu} and ${TASK_QUEUES.gpu}/${hostId}`);
  await Promise.all(workers.map((w) => w.run()));
  stopServers();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
