// The workflow of scripts/diagnose/workflow-thread-load.ts: a signal handler, a query, a condition, continue-as-new.
import { condition, continueAsNew, defineQuery, defineSignal, setHandler, workflowInfo } from '@temporalio/workflow';
export const tick = defineSignal<[{ step: number }]>('tick');
export const status = defineQuery<{ step: number }>('status');
export async function ticker(n: number, from = 0): Promise<number> {
  let step = from;
  const s = { step };
  setHandler(tick, (p) => { step = Math.max(step, p.step); s.step = step; });
  setHandler(status, () => s);
  await condition(() => step >= n || workflowInfo().historyLength >= 8000);
  if (step < n) await continueAsNew<typeof ticker>(n, step);
  return step;
}
