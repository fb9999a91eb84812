/**
 * Orchestration overhead of a training run on CPU: the wall time of the trainingRun workflow
 * (client start -> result) against the trainer's own wall time (torchrun spawn -> exit on rank 0),
 * with a breakdown of where the difference goes. Real parts: the Temporal dev server and GPU
 * workers as separate processes, a tiny MDS dataset, the CPU trainer. Goal: under 3%.
 *
 *   npm run bench:orchestration -- [--steps 300] [--checkpoint-every 50] [--nodes 2]
 */
import { parseArgs } from 'node:util';
import proto from '@temporalio/proto';
import { TASK_QUEUES } from '../contracts/workflows.js';
import type { TrainingRunResult } from '../contracts/training.js';
import { readMetrics } from '../activities/train/metrics.js';
import { gangInput, startGang, tinyTrainer } from '../test/support/trainingGang.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '300' },
    'checkpoint-every': { type: 'string', default: '50' },
    nodes: { type: 'string', default: '2' },
  },
});
const steps = Number(values.steps);
const checkpointEvery = Number(values['checkpoint-every']);
const nodes = Number(values.nodes);

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(2)}%`;

async function main(): Promise<void> {
  console.error(`starting the dev server and ${nodes} GPU worker(s)...`);
  const env = await startGang({ gpuWorkers: nodes });
  try {
    const trainer = tinyTrainer(steps, checkpointEvery);
    trainer.train.nodes = nodes;
    const input = gangInput(env, `bench-${Date.now()}`, trainer, { nodes, progressEverySeconds: 2, heartbeatTimeoutSeconds: 20, stallTimeoutSeconds: 120 });
    // Workers take a few seconds to start polling; a run started before that would count it.
    await waitForPollers(env, nodes);
    console.error(`training ${steps} steps on ${nodes} node(s), a checkpoint every ${checkpointEvery}...`);
    const t0 = Date.now();
    const handle = await env.client.workflow.start('trainingRun', { taskQueue: TASK_QUEUES.workflows, workflowId: input.runKey, args: [input] });
    const result: TrainingRunResult = await handle.result();
    const wallMs = Date.now() - t0;
    const t = result.timings!;
    const events = await readMetrics(input.checkpointsUri);
    const checkpoints = events.filter((e) => e.event === 'checkpoint').length;
    const overhead = wallMs - t.trainerWallMs;
    const beforeNode = t.startedAt - t0;
    const afterNode = t0 + wallMs - (t.startedAt + t.activityMs);
    const inNode = t.activityMs - t.trainerWallMs;

    console.log(`\nOrchestration overhead of one training run (${steps} steps, ${nodes} node(s), ${checkpoints} checkpoints, CPU)`);
    console.log(`  workflow wall time (start -> result)        ${s(wallMs)}`);
    console.log(`  trainer's own wall time (torchrun, rank 0)  ${s(t.trainerWallMs)}`);
    console.log(`    of which python/torch start-up           ${s(t.trainerStartMs)}`);
    console.log(`    of which the training loop                ${s(t.trainerLoopMs)}`);
    console.log(`  overhead                                    ${s(overhead)}  = ${pct(overhead, t.trainerWallMs)} of the trainer's time (goal < 3%)`);
    console.log(`    placement + pickup (start -> node runs)   ${s(beforeNode)}  (node task queue pickup ${t.pickupMs} ms)`);
    console.log(`    in the node, before torchrun              ${s(t.shardsMs + t.rendezvousMs + t.resumeDownloadMs)}  (shards ${t.shardsMs} ms, rendezvous ${t.rendezvousMs} ms, resume download ${t.resumeDownloadMs} ms)`);
    console.log(`    in the node, after torchrun exits         ${s(t.uploadWaitMs)}  (last checkpoint + metrics upload)`);
    console.log(`    other in-node time                        ${s(inNode - t.shardsMs - t.rendezvousMs - t.resumeDownloadMs - t.uploadWaitMs)}`);
    console.log(`    after the node (report, completion)       ${s(afterNode)}`);
    for (const [what, ms] of await placementPhases(handle, t0)) console.log(`      ${what.padEnd(40)} ${ms} ms`);
    console.log(`  overhead against the training loop alone    ${pct(wallMs - t.trainerLoopMs, t.trainerLoopMs)} (includes python/torch start-up)`);
    console.log(`  report: ${result.reportUri}`);
  } finally {
    await env.stop();
  }
}

/** From the workflow history: how the time from start to the running node splits (ms). */
async function placementPhases(handle: { fetchHistory(): Promise<proto.temporal.api.history.v1.IHistory> }, t0: number): Promise<[string, number][]> {
  const Ev = proto.temporal.api.enums.v1.EventType;
  const events = (await handle.fetchHistory()).events ?? [];
  const at = (type: number, pred: (e: proto.temporal.api.history.v1.IHistoryEvent) => boolean = () => true) => {
    const e = events.find((x) => x.eventType === type && pred(x));
    return e?.eventTime ? Number(e.eventTime.seconds) * 1000 + Math.round((e.eventTime.nanos ?? 0) / 1e6) : undefined;
  };
  const isType = (name: string) => (e: proto.temporal.api.history.v1.IHistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType?.name === name;
  const started = at(Ev.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)!;
  const claimScheduled = at(Ev.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, isType('claimWorker'))!;
  const claimSignals = events.filter((e) => e.eventType === Ev.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && e.workflowExecutionSignaledEventAttributes?.signalName === 'claim');
  const lastClaim = claimSignals.at(-1)?.eventTime;
  const claimed = lastClaim ? Number(lastClaim.seconds) * 1000 + Math.round((lastClaim.nanos ?? 0) / 1e6) : claimScheduled;
  const nodeScheduled = at(Ev.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, isType('trainNode'))!;
  return [
    ['client start -> workflow started', started - t0],
    ['first workflow task (claims scheduled)', claimScheduled - started],
    ['claims picked up and signalled', claimed - claimScheduled],
    ['workflow task: nodes scheduled', nodeScheduled - claimed],
  ];
}

async function waitForPollers(env: Awaited<ReturnType<typeof startGang>>, nodes: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const d = await env.client.workflowService
      .describeTaskQueue({ namespace: 'default', taskQueue: { name: TASK_QUEUES.gpu }, taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY })
      .catch(() => undefined);
    if ((d?.pollers?.length ?? 0) >= nodes || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
