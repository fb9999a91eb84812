/**
 * Generation settings of an eval run: the config's own, or a preset of the Codex paper (Chen et
 * al. 2021: the best temperature for pass@1 is 0.2, for pass@10 and pass@100 0.8; nucleus
 * sampling with top-p 0.95). A preset sets temperature and top-p, raises the samples per problem
 * to its minimum (pass@k needs n >= k, and more samples tighten the estimate) and adds its k.
 */
import type { PipelineConfig } from '../../../lib/config/types.js';

export interface GenerationSettings {
  n: number;
  ks: number[];
  temperature: number;
  topP: number;
  maxNewTokens: number;
  batchSize: number;
  preset: string | null;
}

export const PRESETS = {
  'codex-pass@1': { temperature: 0.2, topP: 0.95, minSamples: 20, ks: [1] },
  'codex-pass@10': { temperature: 0.8, topP: 0.95, minSamples: 20, ks: [1, 10] },
  'codex-pass@100': { temperature: 0.8, topP: 0.95, minSamples: 200, ks: [1, 10, 100] },
} as const;

export type PresetName = keyof typeof PRESETS;

export function resolveGeneration(params: Pick<PipelineConfig['eval'], 'preset' | 'samplesPerProblem' | 'k' | 'temperature' | 'topP' | 'maxNewTokens' | 'batchSize'>): GenerationSettings {
  const base = { maxNewTokens: params.maxNewTokens, batchSize: params.batchSize, preset: params.preset ?? null };
  if (!params.preset) return { ...base, n: params.samplesPerProblem, ks: [...new Set(params.k)].sort((a, b) => a - b), temperature: params.temperature, topP: params.topP };
  const p = PRESETS[params.preset];
  const n = Math.max(params.samplesPerProblem, p.minSamples);
  return { ...base, n, ks: [...new Set([...p.ks, ...params.k])].filter((k) => k <= n).sort((a, b) => a - b), temperature: p.temperature, topP: p.topP };
}
