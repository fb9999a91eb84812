/**
 * The data worker: runs the workflows (llm-pipeline queue) and the CPU activities (llm-data).
 * Start as many as you like; Temporal spreads the work.
 */
import { Worker } from '@temporalio/worker';
import { createDataActivities } from '../activities/data.js';
import { TASK_QUEUES } from '../contracts/workflows.js';
import { kilnDataConverter, describeEncryption } from '../lib/security/dataConverter.js';
import { connectClient, connectWorker, temporalNamespace } from './connection.js';
import { installObservability, workerLog } from './observability.js';
import { ensureSearchAttributes } from './searchAttributes.js';
import { workflowsPath, workflowWorkerOptions } from './workflowBundle.js';

async function main(): Promise<void> {
  const { interceptors } = installObservability(); // before the first connection starts the SDK runtime
  const connection = await connectWorker();
  const namespace = temporalNamespace();
  // The pipeline upserts KilnStage: the attribute must exist before this worker runs a workflow task.
  const client = await connectClient();
  await ensureSearchAttributes(client, namespace, workerLog).finally(() => client.connection.close());
  const workflows = await Worker.create({ connection, namespace, taskQueue: TASK_QUEUES.workflows, workflowsPath, dataConverter: kilnDataConverter(), ...workflowWorkerOptions });
  const data = await Worker.create({
    connection,
    namespace,
    taskQueue: TASK_QUEUES.data,
    dataConverter: kilnDataConverter(),
    activities: createDataActivities(),
    interceptors,
    // Stages are CPU-bound; the eval sandbox parallelises inside its activity.
    maxConcurrentActivityTaskExecutions: Number(process.env.KILN_DATA_CONCURRENCY ?? 2),
  });
  workerLog(`[data-worker ${process.pid}] polling ${TASK_QUEUES.workflows}, ${TASK_QUEUES.data}; ${describeEncryption()}`);
  await Promise.all([workflows.run(), data.run()]);
  // The SDK runtime (and its forwarded JSON logs) ends with its last native connection.
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
