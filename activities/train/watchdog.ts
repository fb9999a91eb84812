/**
 * Rank 0's watch over the trainer. Rank 0 sees an event per step; every step all-reduces across
 * the gang, so silence means some rank is stuck: the watchdog kills a trainer silent for longer
 * than stallLimitMs allows (a hung gang cannot checkpoint), and the node fails as hung.
 */
import type { NodeTimings } from '../../contracts/training.js';
import type { ToolEvent } from '../../lib/pythonTool.js';

const STARTUP_ALLOWANCE_MS = 10 * 60_000;
const CHECKPOINT_ALLOWANCE_MS = 30 * 60_000;

/**
 * The limit follows what this run actually does: 4x the longest gap between events seen, never
 * under the configured floor; before the first step it allows 10 minutes (shard downloads,
 * rendezvous, torch start-up). A checkpoint being written (between the trainer's
 * checkpoint_start and checkpoint events: a multi-GB write of a big model) may take 30 minutes,
 * or 4x the longest write so far; writes are not counted as gaps.
 */
export function stallLimitMs(floorSeconds: number, longestGapMs: number, sawStep: boolean, writing?: { longestWriteMs: number }): number {
  const floor = floorSeconds * 1000;
  if (writing) return Math.max(floor, CHECKPOINT_ALLOWANCE_MS, 4 * writing.longestWriteMs);
  return sawStep ? Math.max(floor, 4 * longestGapMs) : Math.max(floor, STARTUP_ALLOWANCE_MS);
}

/** When the trainer spoke, from its spawn on: its silences, its checkpoint writes, its phases. */
export class TrainerLiveness {
  private startEventAt: number | undefined;
  private lastEventAt: number;
  private longestGapMs = 0;
  private sawStep = false;
  /** A checkpoint write in progress. */
  private writingSince: number | undefined;
  private longestWriteMs = 0;

  constructor(private readonly spawnedAt: number) {
    this.lastEventAt = spawnedAt;
  }

  observe(e: ToolEvent, now: number): void {
    if (this.sawStep && this.writingSince === undefined) this.longestGapMs = Math.max(this.longestGapMs, now - this.lastEventAt);
    this.lastEventAt = now;
    if (e.event === 'checkpoint_start') {
      this.writingSince = now;
    } else if (this.writingSince !== undefined && e.event === 'checkpoint') {
      this.longestWriteMs = Math.max(this.longestWriteMs, now - this.writingSince);
      this.writingSince = undefined;
    }
    if (e.event === 'start') this.startEventAt ??= now;
    else if (e.event === 'step') this.sawStep = true;
  }

  /** How long the trainer has been silent at `now`, and how long it may be. */
  silence(now: number, floorSeconds: number): { silentMs: number; limitMs: number } {
    const writing = this.writingSince === undefined ? undefined : { longestWriteMs: this.longestWriteMs };
    return { silentMs: now - this.lastEventAt, limitMs: stallLimitMs(floorSeconds, this.longestGapMs, this.sawStep, writing) };
  }

  /** The trainer's phases, once it exited at `exitedAt`. */
  timings(exitedAt: number): Pick<NodeTimings, 'trainerWallMs' | 'trainerStartMs' | 'trainerLoopMs'> {
    return {
      trainerWallMs: exitedAt - this.spawnedAt,
      trainerStartMs: (this.startEventAt ?? exitedAt) - this.spawnedAt,
      trainerLoopMs: this.startEventAt === undefined ? 0 : this.lastEventAt - this.startEventAt,
    };
  }
}

export interface WatchdogHooks {
  /** Whether the trainer is being stopped already (then the watchdog keeps quiet). */
  stopping(): boolean;
  /** The step the trainer reached, for the message. */
  step(): number;
  /** A trainer silent past its limit: why, in words. */
  onStall(why: string): void;
}

/** Checks the trainer's silence every second until the returned function is called. */
export function startWatchdog(liveness: TrainerLiveness, floorSeconds: number, hooks: WatchdogHooks): () => void {
  const timer = setInterval(() => {
    if (hooks.stopping()) return;
    const { silentMs, limitMs } = liveness.silence(Date.now(), floorSeconds);
    if (silentMs > limitMs) {
      hooks.onStall(`the trainer emitted no event for ${Math.round(silentMs / 1000)} s (limit ${Math.round(limitMs / 1000)} s) after step ${hooks.step()}`);
    }
  }, 1000);
  return () => clearInterval(timer);
}
