// The resolved pipeline config: every default filled in. Field docs and defaults live in
// configs/schema.json, the single source of truth that editors, the CLI and the workflow share.
export interface PipelineConfig {
  name: string;
  seed: number;
  artifacts: string;
  ingest: { source: string; languages: string[]; maxRowsPerLanguage: number | null; onBadFile: 'skip' | 'fail'; maxDocumentBytes: number | null };
  clean: {
    maxAvgLineLength: number;
    maxLineLength: number;
    minAlphanumFraction: number;
    generatedMarkerLines: number;
    redactPii: boolean;
    minAlphabeticFraction?: number | null;
    perExtension?: Record<
      string,
      { maxLineLength?: number | null; maxAvgLineLength?: number | null; minAlphanumFraction?: number | null; minAlphabeticFraction?: number | null; minChars?: number | null; maxChars?: number | null }
    >;
    vendoredDirs?: string[];
    minifiedAvgLineLength?: number;
    minifiedMaxWhitespaceFraction?: number;
    xmlHeaderExemptExtensions?: string[];
    htmlMinVisibleFraction?: number;
    htmlMinVisibleChars?: number;
    decontaminationBenchmarks?: string[];
    decontaminationNgram?: number;
    decontaminationMinOverlap?: number;
    syntaxLanguages?: string[];
    syntaxMaxBytes?: number;
    disabledFilters?: string[];
  };
  /** bands and rows unset: chosen for threshold and numPerm (activities/dedup/params.ts). */
  dedup: { exact: boolean; near: boolean; numPerm: number; bands?: number; rows?: number; ngram: number; threshold: number; verify: boolean };
  tokenizer: { vocabSize: number; sampleDocs: number; minFrequency: number; heldoutDocs: number };
  shard: { seqLen: number; valFraction: number; fimRate: number; fimSpmRate: number; shardSizeLimit: number; compression: 'zstd' | null };
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
    heartbeatTimeoutSeconds: number;
    stallTimeoutSeconds: number;
    parallelism: 'ddp' | 'fsdp';
    compile: boolean;
    keepCheckpoints: number;
    lossSpikeWindow: number;
    lossSpikeFactor: number;
    lossSpikePatience: number;
    lossSpikeStop: boolean;
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
