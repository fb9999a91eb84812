/**
 * N tiny pipelines (the real llmPipeline on configs/tiny.json) started at once against one dev
 * stack (cli/stack.ts: the Temporal dev server, one data worker, G GPU workers, the gateway, as
 * separate processes). A run still unfinished at the deadline is not papered over: where it
 * stands (status queries, pending activities) goes into the results. Part of bench-scale.ts.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Stack } from '../../cli/stack.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
import { freePort } from '../../lib/ports.js';
import { fileUri } from '../../lib/storage/index.js';
import { tinyConfig } from '../../test/e2e/support.js';
import { ProcSampler, type LoadSeen } from './procStats.js';
import { historySizes, inspectStuck, stagesOf, type HistorySizes, type StuckRun } from './scaleInspect.js';

export interface PipelinesRun {
  pipelines: number;
  steps: number;
  nodes: number;
  gpuWorkers: number;
  /** "per-run": each run its own artifacts root; "shared": one root, each run a different seed and name. */
  artifacts: 'per-run' | 'shared';
  finished: number;
  failed: { id: string; error: string }[];
  /** Runs still going when the deadline passed, with where they stood. */
  stuck: StuckRun[];
  /** Per finished run, seconds from the common start to its result (sorted). */
  runSeconds: number[];
  /** Per finished run: gang restarts and training attempts (from its result). */
  training: { gangRestarts: number; attempts: number; runs: number }[];
  totalSeconds: number;
  processes: { name: string; cpuSeconds: number; peakRssMb: number; peakTreeRssMb: number }[];
  /** RSS (MB) over time: server, all workers (own RSS), all workers with their children. */
  memory: { t: number; serverMb: number; workersMb: number }[];
  histories: HistorySizes;
  load: { before: number[]; after: number[]; during: LoadSeen };
}

const mb = (b: number) => Math.round(b / 1048576);

/** RSS of the server and the workers every `everySeconds`, from the sampler's series. */
function memoryOverTime(sampler: ProcSampler, everySeconds: number): PipelinesRun['memory'] {
  const all = [...sampler.watched.values()];
  const server = all.find((w) => w.name === 'temporal');
  const workers = all.filter((w) => w.name !== 'temporal' && w.name !== 'gateway');
  const out: PipelinesRun['memory'] = [];
  for (const [t, bytes] of server?.series ?? []) {
    if (out.length && t - out.at(-1)!.t < everySeconds) continue;
    const at = (s: [number, number][]) => s.find(([u]) => u >= t)?.[1] ?? s.at(-1)?.[1] ?? 0;
    out.push({ t: Math.round(t), serverMb: mb(bytes), workersMb: mb(workers.reduce((sum, w) => sum + at(w.series), 0)) });
  }
  return out;
}

export async function runPipelines(opts: {
  pipelines: number;
  steps: number;
  nodes: number;
  gpuWorkers: number;
  deadlineSeconds: number;
  artifacts: 'per-run' | 'shared';
  scratch: string;
  log: (line: string) => void;
}): Promise<PipelinesRun> {
  mkdirSync(opts.scratch, { recursive: true });
  const dir = mkdtempSync(join(opts.scratch, `pipelines-${opts.artifacts}-`));
  const stack = new Stack({ home: join(dir, 'home'), temporalPort: await freePort(), uiPort: await freePort(), gpuWorkers: opts.gpuWorkers });
  opts.log(`  starting the stack (dev server, data worker, ${opts.gpuWorkers} GPU workers, gateway); logs in ${join(dir, 'home', 'logs')}`);
  await stack.start();
  const sampler = new ProcSampler(2000);
  for (const [name, child] of stack.children) sampler.add(name, child.pid!);
  sampler.start();
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  try {
    const base = tinyConfig();
    const before = loadavg();
    const t0 = performance.now();
    const elapsed = () => (performance.now() - t0) / 1000;
    const ids = Array.from({ length: opts.pipelines }, (_, i) => `scale-tiny-${i}-${Date.now()}`);
    // Same inputs would memoize stages across runs: a seed and name of its own forces real work in each.
    const handles = await Promise.all(
      ids.map((id, i) =>
        client.workflow.start('llmPipeline', {
          taskQueue: TASK_QUEUES.workflows,
          workflowId: id,
          args: [
            tinyConfig({
              name: `scale-${i}`,
              seed: 1234 + i,
              artifacts: fileUri(opts.artifacts === 'shared' ? join(dir, 'artifacts') : join(dir, `artifacts-${i}`)),
              train: { ...(base.train as object), steps: opts.steps, nodes: opts.nodes },
            }),
          ],
        }),
      ),
    );
    opts.log(`  ${ids.length} pipelines started in ${elapsed().toFixed(1)} s`);
    const runSeconds: number[] = [];
    const training: PipelinesRun['training'] = [];
    const failed: PipelinesRun['failed'] = [];
    const open = new Set<WorkflowHandle>(handles);
    let closing = false; // past the deadline: results that arrive while the stack stops are not the run's
    const ticker = setInterval(() => {
      const fmt = (c: Record<string, number>) => Object.entries(c).map(([k, n]) => `${k}:${n}`).join(' ');
      void stagesOf([...open]).then((c) => opts.log(`    ${elapsed().toFixed(0)} s: ${runSeconds.length} done, ${failed.length} failed; open by stage ${fmt(c)}; load ${loadavg()[0]!.toFixed(1)}`));
    }, 60_000);
    const all = Promise.all(
      handles.map(async (h) => {
        try {
          const r = (await h.result()) as PipelineResult;
          if (closing) return;
          runSeconds.push(elapsed());
          training.push({ gangRestarts: r.train.gangRestarts, attempts: r.train.attempts, runs: r.train.runs });
          opts.log(`    ${h.workflowId} finished at ${runSeconds.at(-1)!.toFixed(0)} s (${runSeconds.length}/${ids.length}; gang restarts ${r.train.gangRestarts})`);
        } catch (err) {
          if (closing) return;
          failed.push({ id: h.workflowId, error: String((err as Error).cause ?? err) });
          opts.log(`    ${h.workflowId} FAILED: ${failed.at(-1)!.error}`);
        }
        open.delete(h);
      }),
    );
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (deadline = setTimeout(() => r(true), opts.deadlineSeconds * 1000)))]);
    clearTimeout(deadline);
    clearInterval(ticker);
    closing = timedOut;
    const totalSeconds = elapsed();
    let stuck: StuckRun[] = [];
    if (timedOut) {
      opts.log(`  deadline of ${opts.deadlineSeconds} s passed with ${open.size} run(s) unfinished: reading where they stand`);
      stuck = await inspectStuck(client, [...open]);
      for (const s of stuck) opts.log(`    ${JSON.stringify(s)}`);
    }
    const watched = sampler.stop();
    const during = sampler.load();
    opts.log('  reading history sizes of every workflow run...');
    const histories = await historySizes(client);
    return {
      pipelines: opts.pipelines,
      steps: opts.steps,
      nodes: opts.nodes,
      gpuWorkers: opts.gpuWorkers,
      artifacts: opts.artifacts,
      finished: runSeconds.length,
      failed,
      stuck,
      runSeconds: runSeconds.sort((a, b) => a - b),
      training,
      totalSeconds,
      processes: watched.map((w) => ({ name: w.name, cpuSeconds: w.cpuSeconds, peakRssMb: mb(w.peakRssBytes), peakTreeRssMb: mb(w.peakTreeRssBytes) })),
      memory: memoryOverTime(sampler, 60),
      histories,
      load: { before, after: loadavg(), during },
    };
  } finally {
    sampler.stop();
    await connection.close().catch(() => undefined);
    await stack.stop();
    // The artifacts go; the stack's logs stay for a look after a failure.
    for (const d of readdirSync(dir).filter((d) => d.startsWith('artifacts'))) rmSync(join(dir, d), { recursive: true, force: true });
  }
}
