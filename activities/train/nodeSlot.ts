/**
 * One gang node at a time on a GPU worker, across its two task queues. The worker polls the shared
 * GPU queue (claims) and its own queue (its node) with a slot each, so while its node trains the
 * shared slot is free and could take another gang's claim: that gang would then wait on a busy
 * worker until its node's schedule-to-start timeout and restart (found by `bench:scale` with 20
 * pipelines on 4 workers). The slot says who this worker is promised to: a claim reserves it for
 * its gang (workflow id and attempt), that gang's node occupies it, and a claim of any other gang
 * is refused (retryable: the claim goes back to the queue, where a free worker takes it).
 */

/** The gang a claim or node belongs to. */
export const gangKey = (trainingWorkflowId: string, attempt: number) => `${trainingWorkflowId}#${attempt}`;

export class NodeSlot {
  /** The gang this worker is promised to; `until` is set while only a finished claim holds it. */
  private holder?: { key: string; until?: number };
  /** The gang whose node runs here now. */
  private running?: string;

  /**
   * @param graceMs how long a claim that ended keeps the worker for its gang's node. The workflow
   *   schedules the node in the same task that cancels the claims, so it comes within seconds; a
   *   placement given up (placement-release) retries after 5-15 s, by when the promise has lapsed
   *   and the worker is free for any gang again.
   */
  constructor(private readonly graceMs = 10_000, private readonly now: () => number = Date.now) {}

  /** The gang this worker is promised to, if any. */
  holderOf(): string | undefined {
    const h = this.holder;
    if (h?.until !== undefined && h.until <= this.now()) this.holder = undefined;
    return this.holder?.key;
  }

  /**
   * How long another gang's claim should wait here: the ms left of a promise that only a finished
   * claim holds (no node has come for it yet), or undefined when the worker is free, already
   * `key`'s, or busy with a node. Refusing such a claim outright would send it to the back of the
   * queue with a growing retry delay, while the gang that just gave up its placement (the usual
   * reason for a lapsing promise) claims the worker again first: two gangs on one worker could
   * take turns for minutes (bench:scale, the placement test in CI). Waiting keeps its turn.
   */
  lapsingFor(key: string): number | undefined {
    const h = this.holder;
    if (!h || h.key === key || h.until === undefined || this.running !== undefined) return undefined;
    const left = h.until - this.now();
    return left > 0 ? left : undefined;
  }

  /** A claim for `key`: true when this worker may offer itself (it is free, or already that gang's). */
  tryClaim(key: string): boolean {
    const held = this.holderOf();
    if (held !== undefined && held !== key) return false;
    this.holder = { key };
    return true;
  }

  /** The claim ended (cancelled): the worker stays promised for graceMs, unless the node already started. */
  claimEnded(key: string): void {
    if (this.holder?.key === key && this.running !== key) this.holder = { key, until: this.now() + this.graceMs };
  }

  /** The node of `key` starts on this worker. */
  occupy(key: string): void {
    this.holder = { key };
    this.running = key;
  }

  /** The node of `key` ended. */
  release(key: string): void {
    if (this.running === key) this.running = undefined;
    if (this.holder?.key === key) this.holder = undefined;
  }
}
