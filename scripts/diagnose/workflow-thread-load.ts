/**
 * Reproduces the workflow-thread crash seen under sustained signal and query load ("async hook
 * stack has become corrupted", sdk-typescript#939): one workflow that continues as new every
 * 8,000 events takes N progress signals (10 at a time) while a client queries it in a tight loop.
 *
 *   npx tsx scripts/diagnose/workflow-thread-load.ts [--signals 60000] [--no-queries] [--no-reuse-v8]
 *
 * The cause (2026-12-02): the crash follows activations that pass the isolate timeout (5 s by
 * default; "Script execution timed out" in the log): V8 termination leaves the async-hook stack
 * unbalanced. With --isolate-timeout 60s (what kiln's workers use) 60,000 signals and 13,540
 * queries finished; the same run at 5 s died after 55,000 with the timeouts logged before.
 * Earlier (2 cores, SDK 1.24.0, Node 20), one run each unless said: with queries and the default
 * reuseV8Context, one run died after about 50,000 signals and another finished all 60,000; with
 * --no-reuse-v8 it finished; without queries, 60,000 signals finished. Not yet a reliable repro:
 * the full pipeline under test/workflows/longRun.test.ts dies far more often.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { startTestServer } from '../../test/support/temporal.js';

const { values } = parseArgs({ options: { signals: { type: 'string', default: '60000' }, 'no-queries': { type: 'boolean' }, 'no-reuse-v8': { type: 'boolean' }, 'isolate-timeout': { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('Usage: npx tsx scripts/diagnose/workflow-thread-load.ts [--signals N] [--no-queries] [--no-reuse-v8] [--isolate-timeout 60s]');
  process.exit(0);
}
const n = Number(values.signals);
const env = await startTestServer();
const bundle = await bundleWorkflowCode({
  workflowsPath: fileURLToPath(new URL('./tickerWorkflow.ts', import.meta.url)),
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } as never,
});
const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'diagnose', workflowBundle: bundle, ...(values['no-reuse-v8'] ? { reuseV8Context: false } : {}), ...(values['isolate-timeout'] ? { isolateExecutionTimeout: values['isolate-timeout'] } : {}) });
const started = Date.now();
await worker.runUntil(async () => {
  const h = await env.client.workflow.start('ticker', { taskQueue: 'diagnose', workflowId: 'ticker', args: [n] });
  let stop = false;
  let queries = 0;
  const querying = (async () => {
    while (!stop && !values['no-queries']) {
      await Promise.all(Array.from({ length: 5 }, () => h.query('status').catch(() => undefined)));
      queries += 5;
    }
  })();
  for (let s = 0; s < n; s += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => h.signal('tick', { step: s + i + 1 }).catch(() => undefined)));
    if (s % 5000 === 0) console.log(`${s} signals, ${queries} queries, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  console.log(`done: step ${String(await h.result())}, ${queries} queries, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  stop = true;
  await querying;
});
await env.teardown();
