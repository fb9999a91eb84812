// Drives the one fan-out shape of a stage (contracts/fanOut.ts): plan, then every part in
// parallel on the activity's task queue (each memoized by the activity), then the commit.
import type { StagePlan } from '../contracts/fanOut.js';
import type { StageResult } from '../lib/manifest.js';

export interface FanOutSteps<P> {
  plan: () => Promise<StagePlan<P>>;
  part: (plan: P, index: number) => Promise<unknown>;
  commit: (plan: P) => Promise<StageResult>;
}

export async function fanOut<P>({ plan, part, commit }: FanOutSteps<P>): Promise<StageResult> {
  const opened = await plan();
  if ('done' in opened) return opened.done;
  await inParallel(opened.parts, (i) => part(opened.plan, i));
  return commit(opened.plan);
}

/** Runs `step(0..n-1)` at once (each an activity on its queue) and waits for all. */
export function inParallel<T>(n: number, step: (index: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => step(i)));
}
