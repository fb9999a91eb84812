/** The end of the stage: every part's counts added up, _DETAILS.json written, the stage committed. */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { commitStage, DETAILS_NAME, joinUri, type ManifestFile, type StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/index.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { defaultStore, type StageDeps } from '../support/stageIo.js';
import { addCleanCounts, addCounts, cleanCountsStats, cleanDetails, emptyCleanCounts } from './details.js';
import { enabledFilters } from './filters.js';
import { readPartMarker, type CleanPartResult, type CleanPlan } from './plan.js';

/** Every file's counts added up, in file order (so samples are the same as one pass over all). */
export function mergeCleanParts(parts: readonly CleanPartResult[]): Omit<CleanPartResult, 'index' | 'output'> & { outputs: ManifestFile[] } {
  const total = { outputs: [] as ManifestFile[], counts: emptyCleanCounts(), timings: {} as Record<string, number>, bytesRead: 0, bytesWritten: 0 } as ReturnType<typeof mergeCleanParts>;
  for (const part of [...parts].sort((a, b) => a.index - b.index)) {
    if (part.output) total.outputs.push(part.output);
    addCleanCounts(total.counts, part.counts);
    if (part.syntax) {
      total.syntax ??= {};
      for (const [lang, n] of Object.entries(part.syntax)) {
        const into = (total.syntax[lang] ??= { checked: 0, failed: 0, skipped_too_large: 0 });
        addCounts(into, n);
      }
    }
    if (part.decontamination) addCounts((total.decontamination ??= {}), part.decontamination);
    addCounts(total.timings, part.timings);
    total.bytesRead += part.bytesRead;
    total.bytesWritten += part.bytesWritten;
  }
  return total;
}

/** Writes _DETAILS.json and the manifest from the added-up counts. */
export async function commitClean(store: ArtifactStore, plan: CleanPlan, total: ReturnType<typeof mergeCleanParts>): Promise<StageResult> {
  const { counts } = total;
  if (counts.rowsIn > 0 && counts.kept === 0) {
    const reasons = Object.entries(counts.dropReasons).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`);
    throw fatal(
      ErrorType.InvalidInput,
      `clean dropped all ${counts.rowsIn} rows of ${plan.inputDir} (${reasons.join(', ')}): loosen the clean settings or check the input.`,
    );
  }
  await store.writeBytes(joinUri(plan.stage.dir, DETAILS_NAME), JSON.stringify(cleanDetails(counts, total.syntax, enabledFilters(plan.params)), null, 2) + '\n');
  return commitStage(store, plan.stage, {
    outputs: total.outputs,
    stats: {
      files_read: plan.files.length,
      ...cleanCountsStats(counts, total.syntax, total.decontamination),
      bytes_read: total.bytesRead,
      bytes_written: total.bytesWritten,
      // Seconds per step: line statistics, each filter (over the files that reached it), PII redaction.
      seconds_by_step: Object.fromEntries(Object.entries(total.timings).map(([k, ms]) => [k, Math.round(ms) / 1000])),
    },
  });
}

/** Adds up the parts' counts, writes _DETAILS.json, commits the stage. */
export async function cleanCommit(plan: CleanPlan, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const parts: CleanPartResult[] = [];
  return withHeartbeat(
    async () => {
      for (let i = 0; i < plan.files.length; i++) parts.push(await readPartMarker(store, plan, i));
      return commitClean(store, plan, mergeCleanParts(parts));
    },
    () => ({ partsRead: parts.length, parts: plan.files.length }),
  );
}
