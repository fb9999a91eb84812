/**
 * One data worker process of the scale benchmark (scripts/bench-scale.ts): a Temporal Worker on
 * the data task queue with kiln's data activities, one activity at a time, so that worker
 * processes are the unit of parallelism. Usage: scaleDataWorker.ts <temporal address> <identity>.
 * Exits after SIGTERM once its running activity (if any) is done.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createDataActivities } from '../../activities/data.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';

const [address, identity] = process.argv.slice(2);
if (!address || !identity) {
  console.error('usage: scaleDataWorker.ts <temporal address> <identity>');
  process.exit(2);
}
Runtime.install({ logger: new DefaultLogger('WARN') });
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({ connection, taskQueue: TASK_QUEUES.data, activities: createDataActivities(), identity, maxConcurrentActivityTaskExecutions: 1 });
// The SDK shuts the worker down on SIGTERM/SIGINT by itself (Runtime's shutdownSignals).
await worker.run();
await connection.close();
