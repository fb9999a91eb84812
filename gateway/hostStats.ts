/**
 * Figures of the engines behind the gateway, read at scrape time: CPU seconds and resident memory
 * of engine processes on this host (routes that carry a `pid`; Linux /proc), and GPU utilisation
 * and memory from NVML through `nvidia-smi --query-gpu` when this host has GPUs. In a cluster the
 * engines run elsewhere: there vLLM's own /metrics and the DCGM exporter are scraped instead.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import type { Arm } from './routing.js';

const CLOCK_TICKS = 100; // USER_HZ on Linux; /proc/<pid>/stat counts CPU time in these

export async function readProcessStats(pid: number): Promise<{ cpuSeconds: number; rssBytes: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ')': utime is field 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
    return Number.isFinite(cpuSeconds) && Number.isFinite(rssKb) ? { cpuSeconds, rssBytes: rssKb * 1024 } : undefined;
  } catch {
    return undefined; // gone, or not Linux
  }
}

export interface GpuStats {
  index: string;
  name: string;
  utilization: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
}

/** Parses `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): GpuStats[] {
  return text
    .split('\n')
    .map((l) => l.split(',').map((f) => f.trim()))
    .filter((f) => f.length === 5 && f[0] !== '')
    .map(([index, name, util, used, total]) => ({
      index: index!,
      name: name!,
      utilization: Number(util) / 100,
      memoryUsedBytes: Number(used) * 1024 * 1024,
      memoryTotalBytes: Number(total) * 1024 * 1024,
    }))
    .filter((g) => Number.isFinite(g.utilization) && Number.isFinite(g.memoryUsedBytes));
}

function queryGpus(): Promise<GpuStats[]> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=index,name,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'],
      { timeout: 5000 },
      (err, stdout) => resolve(err ? [] : parseNvidiaSmi(stdout)),
    );
  });
}

/** Memoizes an async read for one scrape: the gauges that share it ask once, not once each. */
function perScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => (pending ??= read().finally(() => setTimeout(() => (pending = undefined), 1000).unref()));
}

export function registerHostStats(registry: Registry, arms: () => readonly Arm[]): void {
  let gpusMissing = false; // no nvidia-smi here: stop asking
  // One /proc read per engine and scrape, shared by the CPU and memory gauges.
  const processStats = perScrape(async () => {
    const out: { version: string; stats: { cpuSeconds: number; rssBytes: number } }[] = [];
    for (const a of arms()) if (a.pid) {
      const stats = await readProcessStats(a.pid);
      if (stats) out.push({ version: a.version, stats });
    }
    return out;
  });
  const processGauge = (name: string, help: string, pick: (s: { cpuSeconds: number; rssBytes: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['version'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const p of await processStats()) this.set({ version: p.version }, pick(p.stats));
      },
    });
  processGauge('kiln_engine_process_cpu_seconds_total', 'CPU seconds used by an engine process on this host (routes with a pid)', (s) => s.cpuSeconds);
  processGauge('kiln_engine_process_resident_memory_bytes', 'Resident memory of an engine process on this host (routes with a pid)', (s) => s.rssBytes);
  // One nvidia-smi call per scrape, shared by the three gauges.
  const gpuStats = perScrape(async () => {
    if (gpusMissing) return [];
    const g = await queryGpus();
    if (g.length === 0) gpusMissing = true;
    return g;
  });
  const gpuGauge = (name: string, help: string, pick: (g: GpuStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['gpu', 'name'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const g of await gpuStats()) this.set({ gpu: g.index, name: g.name }, pick(g));
      },
    });
  gpuGauge('kiln_gpu_utilization_ratio', 'GPU utilisation (NVML via nvidia-smi), 0..1', (g) => g.utilization);
  gpuGauge('kiln_gpu_memory_used_bytes', 'GPU memory in use (NVML via nvidia-smi)', (g) => g.memoryUsedBytes);
  gpuGauge('kiln_gpu_memory_total_bytes', 'GPU memory in all (NVML via nvidia-smi)', (g) => g.memoryTotalBytes);
}
