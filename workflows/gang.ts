// One gang attempt: place every rank on a distinct GPU worker, run the nodes, and collect how
// each one ended. The first failure kills the rest; a rank still running after rank 0 is done is
// stopped after the grace time.
import { CancellationScope, condition, isCancellation, patched, sleep, workflowInfo, workflowRandom } from '@temporalio/workflow';
import type { NodeFailure } from '../contracts/failures.js';
import type { TrainingRunInput, TrainNodeInput, TrainNodeResult } from '../contracts/training.js';
import { claimWorker, claimWorkerReleasing, nodeOn } from './trainingProxies.js';
import type { TrainingTracker } from './trainingTracker.js';

export interface GangOutcome {
  settled: PromiseSettledResult<TrainNodeResult>[];
  /** In the order they arrived. */
  failures: NodeFailure[];
}

function nodeInput(input: TrainingRunInput, rank: number, attempt: number): TrainNodeInput {
  return {
    runKey: input.runKey,
    trainer: input.trainer,
    shardsDir: input.shardsDir,
    checkpointsUri: input.checkpointsUri,
    rank,
    nodes: input.nodes,
    procsPerNode: input.procsPerNode,
    attempt,
    trainingWorkflowId: workflowInfo().workflowId,
    pipelineWorkflowId: input.pipelineWorkflowId,
    progressEverySeconds: input.progressEverySeconds,
    stallTimeoutSeconds: input.stallTimeoutSeconds,
  };
}

/** Release 0.3.0: a partial placement is given up after a while instead of held forever. */
const PLACEMENT_RELEASE_PATCH = 'placement-release';

/**
 * Claims a worker per rank. Two gangs that each hold part of a shared pool would wait for each
 * other forever; so a placement still partial after placementTimeoutSeconds cancels its claims,
 * waits until they have let go, and tries again after a random 5-15 s (workflow randomness:
 * replayed exactly, different per run). False when the history is long: continue as new first.
 */
async function placeReleasing(tracker: TrainingTracker, input: TrainingRunInput, attempt: number): Promise<boolean> {
  const { claims, status } = tracker;
  const trainingWorkflowId = workflowInfo().workflowId;
  const timeoutMs = (input.placementTimeoutSeconds ?? 60) * 1000;
  for (;;) {
    const placing = new CancellationScope();
    const pending = Array.from({ length: input.nodes }, (_, rank) =>
      placing.run(() => claimWorkerReleasing({ trainingWorkflowId, attempt, rank })).catch(() => undefined),
    );
    const placed = await condition(() => claims.size === input.nodes, timeoutMs);
    placing.cancel();
    if (placed) return true;
    await Promise.all(pending); // every claim has ended: no late claim signal, workers free
    claims.clear();
    status.placementRetries = (status.placementRetries ?? 0) + 1;
    if (tracker.historyIsLong()) {
      tracker.continuing = true;
      return false;
    }
    await sleep(5_000 + Math.floor(workflowRandom.random() * 10_000)); // the SDK's seeded stream
  }
}

export async function runGang(tracker: TrainingTracker, input: TrainingRunInput, attempt: number): Promise<GangOutcome> {
  const { status, claims } = tracker;
  const workflowId = workflowInfo().workflowId;
  const heartbeatTimeoutSeconds = input.heartbeatTimeoutSeconds ?? 20;
  const finishGraceMs = (input.finishGraceSeconds ?? 120) * 1000;
  const ranks = Array.from({ length: input.nodes }, (_, rank) => rank);
  const scope = (tracker.gang = new CancellationScope());
  const failures: NodeFailure[] = [];
  let settled: PromiseSettledResult<TrainNodeResult>[] = [];
  try {
    settled = await scope.run(async () => {
      // Placement: one claim per rank; claims hold their workers until all ranks have one.
      if (patched(PLACEMENT_RELEASE_PATCH)) {
        if (!(await placeReleasing(tracker, input, attempt))) return []; // continuing as new
      } else {
        const placing = new CancellationScope();
        for (const rank of ranks) {
          placing.run(() => claimWorker({ trainingWorkflowId: workflowId, attempt, rank })).catch(() => undefined);
        }
        await condition(() => claims.size === input.nodes);
        placing.cancel();
      }
      status.placement = ranks.map((rank) => claims.get(rank)!.workerId);
      status.gang = 'running';
      tracker.report();
      // The first failure stops the rest (killed: they cannot checkpoint without the lost node);
      // then wait for every node to settle.
      const nodes = ranks.map((rank) =>
        nodeOn(claims.get(rank)!.taskQueue, heartbeatTimeoutSeconds)(nodeInput(input, rank, attempt)).catch((error) => {
          if (!isCancellation(error)) {
            failures.push({ rank, workerId: claims.get(rank)!.workerId, error });
            if (failures.length === 1) tracker.stopGang('kill');
          }
          throw error;
        }),
      );
      // When rank 0 is done the training is: the other ranks' torchrun exits with it. One still
      // running after the grace time is stuck (in a collective, at exit) and is stopped.
      let rank0Done = false;
      nodes[0]!.then((r) => void (rank0Done = r.status === 'done')).catch(() => undefined);
      const stragglers = new CancellationScope();
      stragglers
        .run(async () => {
          await condition(() => rank0Done);
          await sleep(finishGraceMs);
          tracker.stopGang('kill');
        })
        .catch(() => undefined);
      const all = await Promise.allSettled(nodes);
      stragglers.cancel();
      return all;
    });
  } catch (err) {
    if (!isCancellation(err)) throw err; // stopped while placing: nothing ran
  }
  tracker.gang = undefined;
  return { settled, failures };
}
