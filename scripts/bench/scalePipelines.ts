/**
 * N tiny pipelines (the real llmPipeline on configs/tiny.json) started at once against one dev
 * stack (cli/stack.ts: the Temporal dev server, one data worker, two GPU workers, the gateway, as
 * separate processes). Part of bench-scale.ts.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Stack } from '../../cli/stack.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import { freePort } from '../../lib/ports.js';
import { fileUri } from '../../lib/storage/index.js';
import { tinyConfig } from '../../test/e2e/support.js';
import { ProcSampler } from './procStats.js';

export interface PipelinesRun {
  pipelines: number;
  steps: number;
  nodes: number;
  /** "per-run": each run its own artifacts root; "shared": one root, each run a different seed and name. */
  artifacts: 'per-run' | 'shared';
  finished: number;
  failed: { id: string; error: string }[];
  /** Per run, seconds from the common start to its result. */
  runSeconds: number[];
  totalSeconds: number;
  processes: { name: string; cpuSeconds: number; peakRssMb: number; peakTreeRssMb: number }[];
  load: { before: number[]; after: number[] };
}

const mb = (b: number) => Math.round(b / 1048576);

export async function runPipelines(opts: { pipelines: number; steps: number; nodes: number; artifacts: 'per-run' | 'shared'; scratch: string; log: (line: string) => void }): Promise<PipelinesRun> {
  mkdirSync(opts.scratch, { recursive: true });
  const dir = mkdtempSync(join(opts.scratch, `pipelines-${opts.artifacts}-`));
  const stack = new Stack({ home: join(dir, 'home'), temporalPort: await freePort(), uiPort: await freePort(), gpuWorkers: 2 });
  opts.log(`  starting the stack (dev server, data worker, 2 GPU workers, gateway); logs in ${join(dir, 'home', 'logs')}`);
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
    opts.log(`  ${ids.length} pipelines started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const runSeconds: number[] = [];
    const failed: { id: string; error: string }[] = [];
    await Promise.all(
      handles.map(async (h) => {
        try {
          await h.result();
          runSeconds.push((performance.now() - t0) / 1000);
          opts.log(`    ${h.workflowId} finished at ${runSeconds.at(-1)!.toFixed(0)} s (${runSeconds.length}/${ids.length})`);
        } catch (err) {
          failed.push({ id: h.workflowId, error: String((err as Error).cause ?? err) });
          opts.log(`    ${h.workflowId} FAILED: ${failed.at(-1)!.error}`);
        }
      }),
    );
    const totalSeconds = (performance.now() - t0) / 1000;
    const watched = sampler.stop();
    return {
      pipelines: opts.pipelines,
      steps: opts.steps,
      nodes: opts.nodes,
      artifacts: opts.artifacts,
      finished: runSeconds.length,
      failed,
      runSeconds: runSeconds.sort((a, b) => a - b),
      totalSeconds,
      processes: watched.map((w) => ({ name: w.name, cpuSeconds: w.cpuSeconds, peakRssMb: mb(w.peakRssBytes), peakTreeRssMb: mb(w.peakTreeRssBytes) })),
      load: { before, after: loadavg() },
    };
  } finally {
    sampler.stop();
    await connection.close().catch(() => undefined);
    await stack.stop();
    // The artifacts go; the stack's logs stay for a look after a failure.
    for (const d of readdirSync(dir).filter((d) => d.startsWith('artifacts'))) rmSync(join(dir, d), { recursive: true, force: true });
  }
}
