/**
 * How a node's trainer is stopped: SIGTERM to its process group, then SIGKILL after a grace
 * period (runPythonTool reads `killAfterMs` when it stops). Worker shutdown: the trainer
 * checkpoints (exit 75), then the node fails so the workflow restarts the gang elsewhere.
 * Cancellation: the training workflow says how (`stopMode`): checkpoint for a pause or a
 * continue-as-new, kill after a lost peer (it cannot checkpoint without that peer). A stall
 * (rank 0's watchdog): kill. Fenced (cut off from Temporal, selfFence.ts): SIGTERM, SIGKILL
 * FENCE_GRACE_MS later; whatever it saves is never committed.
 */
import type { RunToolOptions } from '../../lib/pythonTool.js';

export type StopMode = 'checkpoint' | 'kill';

/** A fenced trainer's time between SIGTERM and SIGKILL: enough to exit cleanly, not to train on. */
export const FENCE_GRACE_MS = 2_000;

export class TrainerStop {
  /** The options to run the trainer with: the stop signal and grace period are this object's. */
  readonly toolOpts: RunToolOptions;
  /** The worker is shutting down. */
  shuttingDown = false;
  /** Why the watchdog killed the trainer. */
  stalled: string | undefined;
  /** Why the node fenced itself: it may no longer train or commit. */
  fenced: string | undefined;
  private readonly controller = new AbortController();

  constructor(base: Omit<RunToolOptions, 'cancelSignal' | 'killAfterMs'>, private readonly graceMs: number) {
    this.toolOpts = { ...base, cancelSignal: this.controller.signal, killAfterMs: graceMs };
  }

  get stopping(): boolean {
    return this.controller.signal.aborted;
  }

  /** SIGTERM now, SIGKILL `graceMs` later; the first call decides. */
  stop(graceMs: number): void {
    if (this.stopping) return;
    this.toolOpts.killAfterMs = graceMs;
    this.controller.abort();
  }

  /** A hung gang cannot checkpoint: kill it at once. */
  stall(why: string): void {
    this.stalled = why;
    this.stop(0);
  }

  /** The node lost its place in the gang: stop the trainer soon, whatever else is under way. */
  fence(why: string): void {
    this.fenced ??= why;
    this.stop(FENCE_GRACE_MS);
  }

  /** Stops the trainer on worker shutdown and on cancellation, until the returned function is called. */
  listen(shutdownSignal: AbortSignal | undefined, cancellation: AbortSignal, stopMode: () => Promise<StopMode>): () => void {
    const onShutdown = () => {
      this.shuttingDown = true;
      this.stop(this.graceMs);
    };
    const onCancel = () => void stopMode().then((mode) => this.stop(mode === 'kill' ? 0 : this.graceMs));
    if (shutdownSignal?.aborted) onShutdown();
    shutdownSignal?.addEventListener('abort', onShutdown, { once: true });
    if (cancellation.aborted) onCancel();
    cancellation.addEventListener('abort', onCancel, { once: true });
    return () => {
      shutdownSignal?.removeEventListener('abort', onShutdown);
      cancellation.removeEventListener('abort', onCancel);
    };
  }
}
