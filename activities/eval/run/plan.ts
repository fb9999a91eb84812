/**
 * The eval stage spread over activities: evalPlan (data queue) reads every language's problems
 * and the infilling examples into one item list in the stage folder and cuts it into parts;
 * generatePart (GPU queue) and executePart (data queue) each do one part, memoized by a marker;
 * evalCommit adds the parts up (parts.ts, commit.ts). workflows/eval.ts drives them.
 */
import { ErrorType, fatal } from '../../../contracts/errors.js';
import type { StagePlan } from '../../../contracts/fanOut.js';
import { sha256Hex } from '../../../lib/canonicalJson.js';
import type { PipelineConfig } from '../../../lib/config/types.js';
import { joinUri, openStage, type OpenedStage, type StageResult } from '../../../lib/manifest.js';
import type { ArtifactStore } from '../../../lib/storage/index.js';
import { withHeartbeat } from '../../support/heartbeat.js';
import { defaultStore, type StageDeps } from '../../support/stageIo.js';
import { decodeJsonl, parseJsonlObjects, parseProblems, type Problem } from '../problems.js';
import { buildInfillingExamples, type InfillingExample } from './infilling.js';
import { resolveGeneration, type GenerationSettings } from './presets.js';
import { generationPrompt, problemSources, stopsFor } from './sources.js';

export interface EvalPlanInput {
  artifactsRoot: string;
  /** The export stage's result (a Hugging Face model folder). */
  model: StageResult;
  params: PipelineConfig['eval'];
  seed: number;
}

/** One thing to generate for: a problem of a language, or an infilling example. */
export type EvalItem =
  | { kind: 'code'; task_id: string; language: string; problem: Problem; prompt: string; stop: string[]; stop_keep: string[] }
  | ({ kind: 'infill'; language: 'python' } & InfillingExample);

export interface EvalPlan {
  stage: Omit<OpenedStage, 'reused'>;
  modelDir: string;
  modelFingerprint: string;
  itemsUri: string;
  /** [start, end) of each part in the item list. */
  parts: [number, number][];
  generation: GenerationSettings;
  languages: string[];
  sources: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
  bootstrapSamples: number;
  seed: number;
  infilling: boolean;
}

async function readSource(store: ArtifactStore, uri: string): Promise<Uint8Array> {
  if (!(await store.exists(uri))) throw fatal(ErrorType.NotFound, `Eval problems ${uri} not found: check eval.problems / eval.problemsByLanguage (or run the bootstrap, which bundles data/humaneval-x).`);
  return store.readBytes(uri);
}

/** Opens the eval stage: its committed result, or the items and parts of a run. */
export async function evalPlan(input: EvalPlanInput, deps?: StageDeps): Promise<StagePlan<EvalPlan>> {
  const store = await defaultStore(deps);
  // Reading every language's problems takes a while on a slow store: heartbeat meanwhile.
  return withHeartbeat(() => openEvalStage(input, store), () => ({ languages: input.params.languages }));
}

async function openEvalStage(input: EvalPlanInput, store: ArtifactStore): Promise<StagePlan<EvalPlan>> {
  const { params } = input;
  const generation = resolveGeneration(params);
  const sources = problemSources(params);
  const items: EvalItem[] = [];
  const digests: Record<string, string> = {};
  for (const language of params.languages) {
    const uri = sources[language];
    if (!uri) throw fatal(ErrorType.InvalidConfig, `eval.languages lists ${language}, which has no bundled problems: set eval.problemsByLanguage.${language} to a problems file.`);
    const bytes = await readSource(store, uri);
    digests[language] = sha256Hex(bytes);
    const problems = parseProblems(bytes, uri);
    const other = problems.find((p) => p.language !== language);
    if (other) throw fatal(ErrorType.InvalidInput, `${uri} is eval's ${language} problem file, but its task ${other.task_id} is ${other.language}: check eval.languages and eval.problemsByLanguage.`);
    for (const problem of params.limit ? problems.slice(0, params.limit) : problems) {
      items.push({ kind: 'code', task_id: problem.task_id, language, problem, prompt: generationPrompt(problem), ...stopsFor(problem) });
    }
  }
  if (params.infilling) {
    const uri = sources.python ?? problemSources({ ...params, languages: ['python'] }).python!;
    const bytes = await readSource(store, uri);
    digests.infilling = sha256Hex(bytes);
    const examples = buildInfillingExamples(parseProblems(bytes, uri), params.infilling.limit);
    if (examples.length === 0) throw fatal(ErrorType.InvalidInput, `eval.infilling: ${uri} has no canonical solutions to build infilling examples from.`);
    for (const example of examples) items.push({ kind: 'infill', language: 'python', ...example });
  }
  const seen = new Set<string>();
  for (const item of items) {
    const key = `${item.kind}:${item.task_id}`;
    if (seen.has(key)) throw fatal(ErrorType.InvalidInput, `eval: task_id ${item.task_id} appears in two languages' problem files: each task_id must be unique across eval.languages.`);
    seen.add(key);
  }
  const identity = {
    stage: 'eval',
    params: {
      languages: params.languages,
      problems: digests,
      limit: params.limit,
      infilling: params.infilling,
      generation,
      timeoutSeconds: params.timeoutSeconds,
      memoryMb: params.memoryMb,
      problemsPerPart: params.problemsPerPart,
      bootstrapSamples: params.bootstrapSamples,
      seed: input.seed,
    },
    inputs: [{ stage: input.model.stage, fingerprint: input.model.fingerprint }],
  };
  const { reused, ...stage } = await openStage(store, input.artifactsRoot, identity);
  if (reused) return { done: reused };
  const itemsUri = joinUri(stage.dir, '_work', 'items.jsonl');
  await store.writeBytes(itemsUri, items.map((i) => JSON.stringify(i)).join('\n') + '\n');
  const parts: [number, number][] = [];
  for (let start = 0; start < items.length; start += params.problemsPerPart) parts.push([start, Math.min(items.length, start + params.problemsPerPart)]);
  const plan: EvalPlan = {
    stage,
    modelDir: input.model.dir,
    modelFingerprint: input.model.fingerprint,
    itemsUri,
    parts,
    generation,
    languages: params.languages,
    sources,
    timeoutSeconds: params.timeoutSeconds,
    memoryMb: params.memoryMb,
    bootstrapSamples: params.bootstrapSamples,
    seed: input.seed,
    infilling: params.infilling !== null,
  };
  return { plan, parts: parts.length };
}

/** The items of part `index`. */
export async function readPartItems(store: ArtifactStore, plan: EvalPlan, index: number): Promise<EvalItem[]> {
  const [start, end] = plan.parts[index]!;
  const rows = parseJsonlObjects(decodeJsonl(await store.readBytes(plan.itemsUri), plan.itemsUri), plan.itemsUri);
  return rows.slice(start, end).map((r) => r.value as unknown as EvalItem);
}

/** Where part `index` of step `step` keeps its marker or its file. */
export function partUri(plan: EvalPlan, step: 'generate' | 'execute' | 'samples' | 'results' | 'infilling', index: number, ext = 'json'): string {
  return joinUri(plan.stage.dir, '_work', `${step}-${String(index).padStart(5, '0')}.${ext}`);
}
