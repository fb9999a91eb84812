// The resolved pipeline config: every default filled in. Field docs and defaults live in
// configs/schema.json, the single source of truth that editors, the CLI and the workflow share.
export interface PipelineConfig {
  name: string;
  seed: number;
  artifacts: string;
  ingest: { source: string; languages: string[]; maxRowsPerLanguage: number | null };
  clean: {
    maxAvgLineLength: number;
    maxLineLength: number;
    minAlphanumFraction: number;
    generatedMarkerLines: number;
    redactPii: boolean;
  };
  dedup: { exact: boolean; near: boolean; numPerm: number; bands: number; rows: number; ngram: number; threshold: number };
  tokenizer: { vocabSize: number; sampleDocs: number; minFrequency: number };
  shard: { seqLen: number; valFraction: number; fimRate: number; shardSizeLimit: number };
  model: { nLayer: number; nHead: number; nKvHead: number | null; dModel: number; ffnHidden: number | null; ropeTheta: number };
  train: {
    nodes: number;
    procsPerNode: number;
    steps: number;
    microBatchSize: number;
    gradAccum: number;
    lr: number;
    warmupSteps: number;
    weightDecay: number;
    gradClip: number;
    checkpointEvery: number;
    evalEvery: number;
    device: 'auto' | 'cpu' | 'cuda';
    dtype: 'auto' | 'float32' | 'bfloat16';
    maxGangRestarts: number;
    progressEverySeconds: number;
  };
  eval: {
    problems: string;
    limit: number | null;
    samplesPerProblem: number;
    k: number[];
    temperature: number;
    maxNewTokens: number;
    timeoutSeconds: number;
    memoryMb: number;
  };
  deploy: { host: string; port: number; smokePrompt: string };
}
