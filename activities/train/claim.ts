/**
 * Placement of a gang, one rank per GPU worker. Each rank's claim runs on the shared GPU queue;
 * the worker that picks it up tells the training workflow its own queue (`llm-gpu/<worker id>`)
 * and keeps the claim running until the workflow has heard from every rank. A worker runs one
 * claim at a time (one slot on the shared queue), so the ranks land on distinct workers; the
 * workflow then schedules each node on its worker's queue and cancels the claims. A worker
 * promised to another gang (its node runs, or is about to) refuses the claim (nodeSlot.ts).
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ErrorType, transient } from '../../contracts/errors.js';
import { claimSignal, gpuWorkerQueue, type WorkerClaim } from '../../contracts/workflows.js';
import type { ClaimInput } from '../../contracts/training.js';
import { gangKey, type NodeSlot } from './nodeSlot.js';

export function createClaimWorker(deps: { client: Client; workerId?: string; slot: NodeSlot }) {
  return async function claimWorker(input: ClaimInput): Promise<WorkerClaim> {
    // Retryable on purpose: a worker set up without an id must not fail the run; another worker takes the claim.
    if (!deps.workerId) throw transient(ErrorType.InvalidConfig, 'This GPU worker has no id (KILN_WORKER_ID is unset and its activities were created without workerId): it cannot take gang nodes.');
    const ctx = Context.current();
    const key = gangKey(input.trainingWorkflowId, input.attempt);
    while (!deps.slot.tryClaim(key)) {
      // Promised to a gang whose claim just ended: wait out the promise (its node, if it was
      // placed, comes within it), then take the worker or refuse.
      const lapsing = deps.slot.lapsingFor(key);
      if (lapsing === undefined) {
        throw transient(ErrorType.WorkerBusy, `GPU worker ${deps.workerId} is promised to another gang (${deps.slot.holderOf()}); the claim goes back to the queue for a free worker.`);
      }
      ctx.heartbeat();
      await ctx.sleep(Math.min(lapsing + 1, 500)); // rejects with the cancellation
    }
    const claim: WorkerClaim = { attempt: input.attempt, rank: input.rank, workerId: deps.workerId, taskQueue: gpuWorkerQueue(deps.workerId) };
    try {
      await deps.client.workflow.getHandle(input.trainingWorkflowId).signal(claimSignal, claim);
      for (;;) {
        ctx.heartbeat(claim);
        await ctx.sleep(500); // rejects with the cancellation once the gang is placed
      }
    } finally {
      deps.slot.claimEnded(key);
    }
  };
}
