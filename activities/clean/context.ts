/** What the filters need beyond the document: tree-sitter grammars and the decontamination benchmarks. */
import type { ArtifactStore } from '../../lib/storage/index.js';
import { buildBenchmarkIndex, loadBenchmark, type LoadedBenchmark } from './decontaminate.js';
import type { CleanParams } from './params.js';
import type { FilterContext } from './reasons.js';
import { SyntaxChecker } from './syntax.js';

/** The decontamination benchmarks the params ask for (none when that filter is off). */
export async function loadBenchmarks(params: CleanParams, store: ArtifactStore): Promise<LoadedBenchmark[]> {
  if (params.disabledFilters.includes('decontaminated') || params.decontaminationBenchmarks.length === 0) return [];
  return Promise.all(params.decontaminationBenchmarks.map((b) => loadBenchmark(b, store)));
}

/** The syntax checker and benchmark index the params ask for (loading grammars and benchmark files). */
export async function createFilterContext(params: CleanParams, store: ArtifactStore): Promise<{ ctx: FilterContext; benchmarks: LoadedBenchmark[] }> {
  const ctx: FilterContext = {};
  if (!params.disabledFilters.includes('syntax_error') && params.syntaxLanguages.length > 0) {
    ctx.syntax = await SyntaxChecker.create(params.syntaxLanguages, params.syntaxMaxBytes);
  }
  try {
    const benchmarks = await loadBenchmarks(params, store);
    if (benchmarks.length > 0) ctx.benchmarks = buildBenchmarkIndex(benchmarks, params.decontaminationNgram, params.decontaminationMinOverlap);
    return { ctx, benchmarks };
  } catch (err) {
    ctx.syntax?.dispose(); // the parsers live in WebAssembly memory, which no GC frees
    throw err;
  }
}
