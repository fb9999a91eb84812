/**
 * CPU time and memory of running processes, read from /proc (Linux): what the scale benchmark
 * reports per worker process. CPU counts the process and its waited-for children
 * (utime + stime + cutime + cstime), so it must be read before the process exits.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface ProcSample {
  /** User + system CPU seconds of the process and its reaped children. */
  cpuSeconds: number;
  /** Peak resident set size (VmHWM), bytes. */
  peakRssBytes: number;
  /** Resident set size now (VmRSS), bytes. */
  rssBytes: number;
}

/** One reading of /proc/<pid>; undefined once the process is gone. */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: utime is field 14 (index 11 here).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: ticks / TICKS_PER_SECOND, peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

/** Process ids of every descendant of `pid` (children, grandchildren...), from /proc/<pid>/task/<tid>/children. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let kids: number[];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const k of kids) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

export interface Watched {
  name: string;
  pid: number;
  /** Last CPU reading (process + reaped children), seconds. */
  cpuSeconds: number;
  /** Peak VmHWM of the process itself, bytes. */
  peakRssBytes: number;
  /** Peak of the summed RSS of the process and its live descendants (e.g. a trainer or server it spawned), bytes. */
  peakTreeRssBytes: number;
  /** RSS of the process itself at each sample: [seconds since start(), bytes]. */
  series: [number, number][];
}

/** The 1-minute load average over the sampled span. */
export interface LoadSeen {
  mean: number;
  max: number;
}

/**
 * Samples a set of processes every `everyMs` until stopped, keeping each one's last CPU reading
 * and peak memory. Call sample() once more right before stopping the processes.
 */
export class ProcSampler {
  readonly watched = new Map<number, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private loads: number[] = [];

  constructor(private readonly everyMs = 1000) {}

  add(name: string, pid: number): void {
    this.watched.set(pid, { name, pid, cpuSeconds: 0, peakRssBytes: 0, peakTreeRssBytes: 0, series: [] });
  }

  start(): void {
    this.t0 = performance.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  sample(): void {
    const t = (performance.now() - this.t0) / 1000;
    this.loads.push(loadavg()[0]!);
    for (const w of this.watched.values()) {
      const s = readProc(w.pid);
      if (!s) continue;
      w.cpuSeconds = s.cpuSeconds;
      w.series.push([t, s.rssBytes]);
      w.peakRssBytes = Math.max(w.peakRssBytes, s.peakRssBytes);
      const tree = s.rssBytes + descendants(w.pid).reduce((sum, p) => sum + (readProc(p)?.rssBytes ?? 0), 0);
      w.peakTreeRssBytes = Math.max(w.peakTreeRssBytes, tree);
    }
  }

  stop(): Watched[] {
    if (this.timer) this.sample();
    clearInterval(this.timer);
    this.timer = undefined;
    return [...this.watched.values()];
  }

  /** Mean and max of the 1-minute load average over the samples so far. */
  load(): LoadSeen {
    const l = this.loads;
    return { mean: l.length ? l.reduce((a, b) => a + b, 0) / l.length : NaN, max: Math.max(...l) };
  }
}
