/**
 * The whole stage in one activity (`kiln clean`, benchmarks): one filter context for every file.
 * The pipeline fans out instead (cleanPlan, cleanPart per file, cleanCommit); both give the same
 * outputs and counts.
 */
import { openStage, type ManifestFile, type StageResult } from '../../lib/manifest.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { defaultStore, parquetOutputs, type StageDeps } from '../support/stageIo.js';
import { commitClean } from './commit.js';
import { createFilterContext } from './context.js';
import { emptyCleanCounts } from './details.js';
import { resolveCleanParams } from './params.js';
import { cleanFile } from './part.js';
import { cleanIdentity, type CleanInput, type CleanPlan } from './plan.js';

export async function cleanStage(input: CleanInput, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const params = resolveCleanParams(input.params);
  const files = parquetOutputs(input.input);
  const { ctx, benchmarks } = await createFilterContext(params, store);
  try {
    const { reused, ...stage } = await openStage(store, input.artifactsRoot, cleanIdentity(input, params, benchmarks));
    if (reused) return reused;
    const plan: CleanPlan = { stage, inputDir: input.input.dir, files, params };
    const counts = emptyCleanCounts();
    const timings: Record<string, number> = {};
    ctx.timings = timings;
    const total = { outputs: [] as ManifestFile[], bytesRead: 0, bytesWritten: 0 };
    let filesDone = 0;
    await withHeartbeat(
      async () => {
        for (const uri of files) {
          const done = await cleanFile(store, plan, uri, counts, ctx);
          if (done.output) total.outputs.push(done.output);
          total.bytesRead += done.bytesRead;
          total.bytesWritten += done.bytesWritten;
          filesDone++;
        }
      },
      () => ({ filesDone, files: files.length, kept: counts.kept, dropped: counts.dropped }),
    );
    return await commitClean(store, plan, { ...total, counts, syntax: ctx.syntax?.counts, decontamination: ctx.benchmarks?.dropped, timings });
  } finally {
    ctx.syntax?.dispose();
  }
}
