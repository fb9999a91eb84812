/**
 * The data stages (ingest -> clean -> dedup -> tokenizer -> shard, as llmPipeline runs them, via
 * the test workflow dataStagesOnly) on one Temporal dev server with W data worker processes, one
 * activity at a time each; the workflow worker runs in this process. Part of bench-scale.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import { validateConfig } from '../../lib/config/validate.js';
import type { StageResult } from '../../lib/manifest.js';
import { fileUri } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { workflowWorkerOptions } from '../../workers/workflowBundle.js';
import { ProcSampler, type LoadSeen, type Watched } from './procStats.js';

export interface DataRun {
  dataset: string;
  workers: number;
  bytesPerPart: number;
  wallSeconds: number;
  /** Seconds per stage, from the workflow history (activity/child scheduled -> completed). */
  stageSeconds: Record<string, number>;
  /** CPU seconds of all data worker processes with their children (tokenizer and shard tools). */
  workerCpuSeconds: number;
  /** CPU seconds of this process (workflow worker and client) during the run. */
  benchCpuSeconds: number;
  workers_: { name: string; cpuSeconds: number; peakRssMb: number; peakTreeRssMb: number }[];
  rowsIn: number;
  rowsAfterClean: number;
  rowsOut: number;
  tokens: number | null;
  /** 1-minute load average before, after, and sampled during the run (mean, max). */
  load: { before: number[]; after: number[]; during?: LoadSeen };
}

const mb = (b: number) => Math.round(b / 1048576);

export async function bundleDataStages(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../test/support/dataStagesWorkflow.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } as never,
  });
}

function startWorker(address: string, identity: string, logDir: string): ChildProcess {
  const fd = openSync(join(logDir, `${identity}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./scaleDataWorker.ts', import.meta.url)), address, identity], { cwd: repoRoot, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return child;
}

async function waitForPollers(env: TestWorkflowEnvironment, n: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const d = await env.client.workflowService
      .describeTaskQueue({ namespace: 'default', taskQueue: { name: TASK_QUEUES.data }, taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY })
      .catch(() => undefined);
    const pollers = new Set((d?.pollers ?? []).map((p) => p.identity)).size;
    if (pollers >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${pollers} of ${n} data workers polling after 180 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Stage wall times from the history: first scheduled activity or child of a stage to its commit. */
async function stageSeconds(env: TestWorkflowEnvironment, workflowId: string): Promise<Record<string, number>> {
  const Ev = proto.temporal.api.enums.v1.EventType;
  const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const ms = (e: proto.temporal.api.history.v1.IHistoryEvent) => Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6);
  const scheduled = new Map<number, string>();
  const span: Record<string, [number, number]> = {};
  const stageOf = (type: string) => /^(ingest|clean|shard|tokenizer|dedup)/.exec(type)?.[1] ?? type;
  for (const e of events) {
    let name: string | undefined;
    if (e.eventType === Ev.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      name = stageOf(e.activityTaskScheduledEventAttributes!.activityType!.name!);
      scheduled.set(Number(e.eventId), name);
    } else if (e.eventType === Ev.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) name = scheduled.get(Number(e.activityTaskCompletedEventAttributes!.scheduledEventId));
    else if (e.eventType === Ev.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED || e.eventType === Ev.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED) name = 'dedup';
    if (!name) continue;
    const t = ms(e);
    const s = (span[name] ??= [t, t]);
    s[0] = Math.min(s[0], t);
    s[1] = Math.max(s[1], t);
  }
  return Object.fromEntries(Object.entries(span).map(([k, [a, b]]) => [k, (b - a) / 1000]));
}

export async function runDataStages(opts: {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
  dataset: string;
  source: string;
  workers: number;
  bytesPerPart: number;
  scratch: string;
  log: (line: string) => void;
}): Promise<DataRun> {
  const { env, workers } = opts;
  mkdirSync(opts.scratch, { recursive: true });
  // A fresh artifacts root per run: nothing memoized from an earlier run.
  const dir = mkdtempSync(join(opts.scratch, `${opts.dataset}-w${workers}-`));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const config = validateConfig({ name: `scale-${opts.dataset}-w${workers}`, artifacts: fileUri(join(dir, 'artifacts')), ingest: { source: opts.source, bytesPerPart: opts.bytesPerPart } });
  const children = Array.from({ length: workers }, (_, i) => startWorker(env.address, `data-${i}`, logDir));
  const exits = children.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  const sampler = new ProcSampler(1000);
  children.forEach((c, i) => sampler.add(`data-${i}`, c.pid!));
  const wf = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.workflows, workflowBundle: opts.bundle, ...workflowWorkerOptions });
  const running = wf.run();
  try {
    await waitForPollers(env, workers);
    sampler.start();
    const before = loadavg();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const workflowId = `scale-${opts.dataset}-w${workers}-${Date.now()}`;
    const ticker = setInterval(() => opts.log(`    ${opts.dataset} x${workers} workers: ${((performance.now() - t0) / 1000).toFixed(0)} s`), 30_000);
    let results: Record<string, StageResult>;
    try {
      results = (await env.client.workflow.execute('dataStagesOnly', { taskQueue: TASK_QUEUES.workflows, workflowId, args: [config] })) as Record<string, StageResult>;
    } finally {
      clearInterval(ticker);
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    // Read /proc while the workers live: CPU of a process is gone once it exits.
    const watched: Watched[] = sampler.stop();
    const s = (r: StageResult | undefined, k: string) => Number(r?.stats?.[k] ?? NaN);
    return {
      dataset: opts.dataset,
      workers,
      bytesPerPart: opts.bytesPerPart,
      wallSeconds,
      stageSeconds: await stageSeconds(env, workflowId),
      workerCpuSeconds: watched.reduce((a, w) => a + w.cpuSeconds, 0),
      benchCpuSeconds: (cpu.user + cpu.system) / 1e6,
      workers_: watched.map((w) => ({ name: w.name, cpuSeconds: w.cpuSeconds, peakRssMb: mb(w.peakRssBytes), peakTreeRssMb: mb(w.peakTreeRssBytes) })),
      rowsIn: s(results.ingest, 'rows_out'),
      rowsAfterClean: s(results.clean, 'kept'),
      rowsOut: s(results.dedup, 'kept'),
      tokens: Number.isFinite(s(results.shard, 'train_tokens')) ? s(results.shard, 'train_tokens') + s(results.shard, 'val_tokens') : null,
      load: { before, after: loadavg(), during: sampler.load() },
    };
  } catch (err) {
    for (const c of children) opts.log(`--- ${c.pid} log tail:\n${readFileSync(join(logDir, `data-${children.indexOf(c)}.log`), 'utf8').slice(-2000)}`);
    throw err;
  } finally {
    sampler.stop();
    for (const c of children) c.kill('SIGTERM');
    const killer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 30_000);
    await Promise.all(exits);
    clearTimeout(killer);
    wf.shutdown();
    await running;
    rmSync(join(dir, 'artifacts'), { recursive: true, force: true });
  }
}
