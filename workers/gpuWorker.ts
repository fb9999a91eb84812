/**
 * A GPU worker: one per GPU node. Runs one gang node at a time (torchrun owns the node's GPUs),
 * export, generation and deployment. It polls the shared GPU queue (placement claims and the
 * other GPU stages) and a queue of its own (`llm-gpu/<worker id>`) where its gang node runs.
 * Falls back to CPU (gloo) without CUDA.
 *
 * Shutdown (SIGTERM, Ctrl-C): the running trainer is asked to checkpoint at once and the worker
 * waits for it up to KILN_SHUTDOWN_GRACE_SECONDS (default 60) before cancelling what is left.
 */
import { hostname } from 'node:os';
import { Worker } from '@temporalio/worker';
import { createGpuActivities } from '../activities/gpu.js';
import { stopServers } from '../activities/deploy.js';
import { gpuWorkerQueue, TASK_QUEUES } from '../contracts/workflows.js';
import { kilnDataConverter, describeEncryption } from '../lib/security/dataConverter.js';
import { connectClient, connectWorker, temporalNamespace } from './connection.js';
import { installObservability, workerLog } from './observability.js';
import { ensureSearchAttributes } from './searchAttributes.js';

function shutdownGraceMs(): number {
  const raw = process.env.KILN_SHUTDOWN_GRACE_SECONDS ?? '60';
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`Expected KILN_SHUTDOWN_GRACE_SECONDS to be a non-negative number of seconds, got \`${raw}\`.`);
  }
  return seconds * 1000;
}

async function main(): Promise<void> {
  const graceMs = shutdownGraceMs();
  const { interceptors } = installObservability(); // before the first connection starts the SDK runtime
  const connection = await connectWorker();
  const client = await connectClient();
  const namespace = temporalNamespace();
  await ensureSearchAttributes(client, namespace, workerLog);
  const workerId = process.env.KILN_WORKER_ID ?? `${hostname()}-${process.pid}`;
  const shutdown = new AbortController();
  const activities = createGpuActivities({
    client,
    nodeAddr: process.env.KILN_NODE_ADDR ?? '127.0.0.1',
    workerId,
    shutdownSignal: shutdown.signal,
    // The trainer's checkpoint must land within the worker's grace time, with a margin for the upload.
    stopGraceMs: Math.max(5_000, graceMs - 5_000),
  });
  const workers = await Promise.all(
    [TASK_QUEUES.gpu, gpuWorkerQueue(workerId)].map((taskQueue) =>
      Worker.create({
        connection,
        namespace,
        taskQueue,
        activities,
        interceptors,
        dataConverter: kilnDataConverter(),
        maxConcurrentActivityTaskExecutions: 1,
        // Cancellation (pause, a lost peer) reaches a node on its next heartbeat: keep them frequent
        // so a pause costs seconds of training, not the SDK's default 30.
        defaultHeartbeatThrottleInterval: '1 second',
        maxHeartbeatThrottleInterval: '2 seconds',
        shutdownGraceTime: graceMs,
      }),
    ),
  );
  // The SDK's own handlers start the workers' shutdown on these signals; this one starts the
  // trainer's checkpoint right away instead of after the grace time.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      shutdown.abort();
      stopServers();
    });
  }
  process.once('exit', stopServers);
  workerLog(`[gpu-worker ${workerId}] polling ${TASK_QUEUES.gpu} and ${gpuWorkerQueue(workerId)}; ${describeEncryption()}`);
  await Promise.all(workers.map((w) => w.run()));
  stopServers();
  // The SDK runtime (and its forwarded JSON logs) ends with its last native connection.
  await Promise.all([connection.close(), client.connection.close()]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
