// GENERATED from configs/schema.json by scripts/gen-config-types.ts: do not edit.
// Regenerate with `npm run gen:config` after changing the schema (test/config/generatedTypes.test.ts
// fails while this file is out of date).
//
// The RESOLVED pipeline config, as validateConfig returns it: every property that has a default in
// the schema is required here because validation fills it in; properties without one stay optional.

/**
 * Input of the llmPipeline workflow. Every field has a default except `name`. Relative file paths are resolved against the directory the config is loaded from by the kiln CLI; the workflow itself only accepts absolute URIs.
 */
export interface PipelineConfig {
  /**
   * Run name: lower-case letters, digits, '.', '_', '-'.
   */
  name: string;
  /**
   * Seed of every random choice (subsamples, shuffles, init).
   *
   * @default 1234
   */
  seed: number;
  /**
   * Root URI of the artifact store: file:// or s3://bucket/prefix. S3 settings come from the workers' environment: KILN_S3_ENDPOINT (S3-compatible endpoint such as MinIO; AWS when unset), AWS_REGION, and the credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, which never enter configs or workflow payloads.
   *
   * @default "file://./.kiln/artifacts"
   */
  artifacts: string;
  ingest: IngestConfig;
  clean: CleanConfig;
  dedup: DedupConfig;
  tokenizer: TokenizerConfig;
  shard: ShardConfig;
  model: ModelConfig;
  train: TrainConfig;
  eval: EvalConfig;
  deploy: DeployConfig;
  /**
   * The serving gateway in front of the deployed engines (`kiln gateway`; `kiln up` starts one).
   */
  gateway: {
    /**
     * After deploy, add the endpoint to the routes of the gateway named by KILN_GATEWAY_URL in the workers' environment (kiln up sets it; none set, nothing happens): the first version at weight 1, later ones at weight 0 until a rollout moves traffic to them.
     *
     * @default true
     */
    register: boolean;
  };
}
export interface IngestConfig {
  /**
   * Parquet in The Stack's schema (older column names repository_name, path, licenses accepted): a file, a folder (every *.parquet below) or a glob (file://./data/** /*.parquet, s3://bucket/raw/* /train-*.parquet) on file:// or s3://; one https:// URL; or a Hugging Face dataset hf://datasets/<owner>/<name>[@<revision>][/<path or glob>] (`@~parquet/<config>/<split>` reads the hub's Parquet export, listed by the datasets-server). Hub endpoints: HF_ENDPOINT and KILN_HF_DATASETS_SERVER; gated datasets need HF_TOKEN in the workers' environment (never in the config).
   *
   * @default "file://./data/tiny-corpus"
   */
  source: string;
  /**
   * `lang` values to keep (case-insensitive, The Stack's names: Python, JavaScript...). Empty keeps all.
   *
   * @default []
   */
  languages: string[];
  /**
   * Cap per language (first rows in source order); null for no cap.
   *
   * @default null
   */
  maxRowsPerLanguage: number | null;
  /**
   * A source file that is not Parquet, lacks a required column (content, lang, repository, path, licences) or has a row group that cannot be decoded: "skip" counts it in the stats and lists it with its reason in the stage's _DETAILS.json; "fail" stops the run with an error naming the file.
   *
   * @default "skip"
   */
  onBadFile: 'skip' | 'fail';
  /**
   * Documents whose content has more UTF-8 bytes are dropped and counted (rows_too_large); null keeps every size. Default 10 MiB (The Stack itself kept files up to 1 MB).
   *
   * @default 10485760
   */
  maxDocumentBytes: number | null;
  /**
   * Ingest runs as one activity per part, in parallel over the data workers: a part is a run of consecutive source files of at most this many bytes; a bigger local file is split by row-group ranges of about this size (a bigger remote file is a part of its own). Smaller parts spread a dataset of many files over more workers; each part's output files are its own (parts do not share output files).
   *
   * @default 268435456
   */
  bytesPerPart: number;
}
/**
 * Data filters, run in this order, the first that matches drops the file: vendored_path, auto_generated, generated_path, minified, xml_header, max_line_length, avg_line_length, alphanum_fraction, alphabetic_fraction, size_window, html_visible_text, decontaminated, syntax_error; then PII redaction of the kept files. Defaults follow StarCoder's preprocessing.
 */
export interface CleanConfig {
  /**
   * Drop files whose mean line length (code points, over content.splitlines()) is above this: filter avg_line_length.
   *
   * @default 100
   */
  maxAvgLineLength: number;
  /**
   * Drop files whose longest line (code points) is above this: filter max_line_length.
   *
   * @default 1000
   */
  maxLineLength: number;
  /**
   * Drop files whose share of alphanumeric code points (str.isalnum) is below this: filter alphanum_fraction.
   *
   * @default 0.25
   */
  minAlphanumFraction: number;
  /**
   * How many first lines are searched for auto-generated markers; 0 disables.
   *
   * @default 5
   */
  generatedMarkerLines: number;
  /**
   * Replace e-mail addresses, IP addresses, keys and passwords in the kept files.
   *
   * @default true
   */
  redactPii: boolean;
  /**
   * Drop files whose share of alphabetic characters (str.isalpha) is below this; null: off (StarCoder uses 0.5 for JSON and YAML only, see perExtension).
   *
   * @default null
   */
  minAlphabeticFraction: number | null;
  /**
   * Quality thresholds per file extension (lower case, no dot), merged field by field over the built-in StarCoder ones: json, yaml, yml = {minAlphabeticFraction: 0.5, minChars: 50, maxChars: 5000}; md, markdown = {maxLineLength: null, maxAvgLineLength: null}. null switches a check off for that extension. Fields: maxLineLength, maxAvgLineLength, minAlphanumFraction, minAlphabeticFraction, minChars, maxChars (characters = code points).
   */
  perExtension: {
    [k: string]: ExtensionThresholds | undefined;
  };
  /**
   * Directory names (any path segment, case-insensitive) whose files are vendored copies: filter vendored_path.
   *
   * @default ["vendor","vendors","_vendor","node_modules","bower_components","jspm_packages","third_party","third-party","thirdparty","3rdparty","Pods"]
   */
  vendoredDirs: string[];
  /**
   * JS/CSS files with a mean line length above this are minified (GitHub Linguist's rule): filter minified.
   *
   * @default 110
   */
  minifiedAvgLineLength: number;
  /**
   * JS/CSS files with a line of 500+ characters and whitespace below this share of the characters are minified too.
   *
   * @default 0.05
   */
  minifiedMaxWhitespaceFraction: number;
  /**
   * Extensions the xml_header filter (`<?xml version=` in the first 100 characters) leaves alone; StarCoder exempts XSLT.
   *
   * @default ["xsl","xslt"]
   */
  xmlHeaderExemptExtensions: string[];
  /**
   * HTML files keep only when their visible text (outside script/style) is at least this share of the file (StarCoder: 0.2)...
   *
   * @default 0.2
   */
  htmlMinVisibleFraction: number;
  /**
   * ... and at least this many characters (StarCoder: 100).
   *
   * @default 100
   */
  htmlMinVisibleChars: number;
  /**
   * Benchmarks whose prompts, docstrings and canonical solutions training files must not contain: `humaneval` (bundled data/humaneval) or file://, s3://, https:// URIs of HumanEval-format jsonl(.gz) files; [] switches decontamination off.
   *
   * @default ["humaneval"]
   */
  decontaminationBenchmarks: string[];
  /**
   * n of the lower-cased whitespace-token n-grams compared; benchmark texts shorter than n tokens are not used.
   *
   * @default 10
   */
  decontaminationNgram: number;
  /**
   * A file is contaminated when it holds at least this share of the distinct n-grams of one benchmark text.
   *
   * @default 0.5
   */
  decontaminationMinOverlap: number;
  /**
   * Languages (The Stack's names) parsed with tree-sitter; files whose tree has ERROR or MISSING nodes are dropped (syntax_error). [] switches the check off.
   *
   * @default ["Python","JavaScript","TypeScript","Go","Java"]
   */
  syntaxLanguages: (
    | 'Python'
    | 'JavaScript'
    | 'JSX'
    | 'TypeScript'
    | 'Go'
    | 'Java'
    | 'Rust'
    | 'Ruby'
    | 'C#'
    | 'C++'
    | 'PHP'
    | 'Shell'
    | 'CSS'
  )[];
  /**
   * Files larger than this (UTF-8 bytes) are not parsed (kept, counted as skipped_too_large): bounds parse time.
   *
   * @default 100000
   */
  syntaxMaxBytes: number;
  /**
   * Filters switched off, by name.
   *
   * @default []
   */
  disabledFilters: (
    | 'vendored_path'
    | 'auto_generated'
    | 'generated_path'
    | 'minified'
    | 'xml_header'
    | 'max_line_length'
    | 'avg_line_length'
    | 'alphanum_fraction'
    | 'alphabetic_fraction'
    | 'size_window'
    | 'html_visible_text'
    | 'decontaminated'
    | 'syntax_error'
  )[];
}
export interface ExtensionThresholds {
  maxLineLength?: number | null;
  maxAvgLineLength?: number | null;
  minAlphanumFraction?: number | null;
  minAlphabeticFraction?: number | null;
  minChars?: number | null;
  maxChars?: number | null;
}
export interface DedupConfig {
  /**
   * Drop files whose content is byte-identical to another file (SHA-256), across all partitions.
   *
   * @default true
   */
  exact: boolean;
  /**
   * Drop near-duplicates found by MinHash LSH.
   *
   * @default true
   */
  near: boolean;
  /**
   * MinHash permutations (The Stack: 256); bands * rows must not exceed it.
   *
   * @default 256
   */
  numPerm: number;
  /**
   * LSH bands. Default: with rows unset too, the pair minimising the equally weighted false positive and false negative probabilities for threshold and numPerm (datasketch's rule): 25 bands of 10 rows for 0.7 and 256.
   */
  bands?: number;
  /**
   * Signature rows per band; set together with bands (see bands for the default).
   */
  rows?: number;
  /**
   * Shingle size in tokens; tokens are the pieces of re.split('[^A-Za-z_0-9]', content), empty ones included (BigCode's near-dedup). Files with fewer tokens take part in exact dedup only.
   *
   * @default 5
   */
  ngram: number;
  /**
   * Jaccard similarity at or above which two files are duplicates (The Stack / StarCoder: 0.7).
   *
   * @default 0.7
   */
  threshold: number;
  /**
   * Keep an LSH candidate pair only when its signatures agree on at least threshold of the permutations (false: every pair sharing a band is a duplicate, as in BigCode's script and datasketch).
   *
   * @default true
   */
  verify: boolean;
}
export interface TokenizerConfig {
  /**
   * Byte-level BPE vocabulary, the 5 special tokens included (replit-code-v1-3b uses 32768).
   *
   * @default 32768
   */
  vocabSize: number;
  /**
   * Documents in the seeded random training subsample.
   *
   * @default 100000
   */
  sampleDocs: number;
  /**
   * @default 2
   */
  minFrequency: number;
  /**
   * Documents outside the training subsample on which characters per token are measured per language (stage stats `charsPerToken`); 0 skips it.
   *
   * @default 2000
   */
  heldoutDocs: number;
}
export interface ShardConfig {
  /**
   * Tokens per packed training sequence.
   *
   * @default 2048
   */
  seqLen: number;
  /**
   * Share of documents held out for validation loss.
   *
   * @default 0.01
   */
  valFraction: number;
  /**
   * Share of documents turned into character-level fill-in-the-middle examples.
   *
   * @default 0.5
   */
  fimRate: number;
  /**
   * Share of the FIM documents in SPM order (the rest PSM), bigcode Megatron-LM's convention: SPM is <fim_prefix><fim_suffix>suffix<fim_middle>prefix middle.
   *
   * @default 0.5
   */
  fimSpmRate: number;
  /**
   * Max bytes per MDS shard file.
   *
   * @default 67108864
   */
  shardSizeLimit: number;
  /**
   * MDS shard compression (streaming's `zstd`); null writes raw shards.
   *
   * @default null
   */
  compression: 'zstd' | null;
}
/**
 * Llama-style decoder (exported as LlamaForCausalLM).
 */
export interface ModelConfig {
  /**
   * @default 12
   */
  nLayer: number;
  /**
   * @default 12
   */
  nHead: number;
  /**
   * Key/value heads (grouped-query attention); null means nHead.
   *
   * @default null
   */
  nKvHead: number | null;
  /**
   * @default 768
   */
  dModel: number;
  /**
   * SwiGLU hidden size; null means 8/3 * dModel rounded up to 64.
   *
   * @default null
   */
  ffnHidden: number | null;
  /**
   * @default 10000
   */
  ropeTheta: number;
}
export interface TrainConfig {
  /**
   * Gang size: node activities, one per GPU worker.
   *
   * @default 1
   */
  nodes: number;
  /**
   * torchrun --nproc-per-node (GPUs per node).
   *
   * @default 1
   */
  procsPerNode: number;
  /**
   * Optimizer steps.
   *
   * @default 1000
   */
  steps: number;
  /**
   * Sequences per rank per micro-step.
   *
   * @default 8
   */
  microBatchSize: number;
  /**
   * @default 1
   */
  gradAccum: number;
  /**
   * Peak learning rate (cosine decay to lr/10).
   *
   * @default 0.0006
   */
  lr: number;
  /**
   * @default 100
   */
  warmupSteps: number;
  /**
   * @default 0.1
   */
  weightDecay: number;
  /**
   * @default 1
   */
  gradClip: number;
  /**
   * Steps between checkpoints (the most work a lost node can cost).
   *
   * @default 200
   */
  checkpointEvery: number;
  /**
   * Steps between validation-loss evaluations.
   *
   * @default 200
   */
  evalEvery: number;
  /**
   * auto: CUDA when available (NCCL), else CPU (gloo).
   *
   * @default "auto"
   */
  device: 'auto' | 'cpu' | 'cuda';
  /**
   * auto: bfloat16 autocast on CUDA, float32 on CPU.
   *
   * @default "auto"
   */
  dtype: 'auto' | 'float32' | 'bfloat16';
  /**
   * Restarts of the whole gang from the last checkpoint before the run fails.
   *
   * @default 5
   */
  maxGangRestarts: number;
  /**
   * How often step/loss reach the workflow (signals) and heartbeats.
   *
   * @default 10
   */
  progressEverySeconds: number;
  /**
   * A gang node whose worker sends no heartbeat for this long is lost (worker killed, host down); the gang restarts. Heartbeats come from the worker every second, independent of step time.
   *
   * @default 20
   */
  heartbeatTimeoutSeconds: number;
  /**
   * A gang whose trainer emits no event (step, eval, checkpoint) for max(this, 4 x the longest gap seen so far) is hung and restarts; 10 minutes before the first step.
   *
   * @default 120
   */
  stallTimeoutSeconds: number;
  /**
   * Data parallelism over the gang's ranks: ddp keeps a whole model per rank; fsdp (FSDP2) shards parameters, gradients and optimizer state, for models that do not fit one GPU. Checkpoints are full state dicts either way, so a run may resume under the other one or with another world size.
   *
   * @default "ddp"
   */
  parallelism: 'ddp' | 'fsdp';
  /**
   * torch.compile each transformer block (faster steps after a compile of some seconds to minutes per start).
   *
   * @default false
   */
  compile: boolean;
  /**
   * Recompute each transformer block's activations in backward instead of keeping them (less memory for a larger micro-batch, about a third more compute).
   *
   * @default false
   */
  activationCheckpointing: boolean;
  /**
   * Newest complete checkpoints each node keeps on its local disk (the artifact store keeps every uploaded one).
   *
   * @default 2
   */
  keepCheckpoints: number;
  /**
   * Loss-spike detector (llm-foundry KillLossSpike): steps in the rolling window of losses; detection starts once it is full.
   *
   * @default 100
   */
  lossSpikeWindow: number;
  /**
   * A step loss at least this many times the window's mean is an outlier.
   *
   * @default 2
   */
  lossSpikeFactor: number;
  /**
   * More than this many consecutive outliers is a spike: a loss_spike event naming the batches' sample ids and source files.
   *
   * @default 4
   */
  lossSpikePatience: number;
  /**
   * Stop the run on a loss spike with a non-retryable error (after the loss_spike event).
   *
   * @default false
   */
  lossSpikeStop: boolean;
  tracking?: TrackingConfig;
}
/**
 * Training curves also to Weights & Biases and/or TensorBoard, from rank 0: loss, lr, tokens/s, MFU and grad norm per step, validation loss per eval. Unset: neither. Changes no result: not part of the run's identity, so turning it on still resumes the run.
 */
export interface TrackingConfig {
  wandb?: WandbConfig;
  /**
   * TensorBoard event files in tensorboard/ of the run's tracking folder on rank 0's worker (needs the `tensorboard` package).
   *
   * @default false
   */
  tensorboard: boolean;
}
/**
 * A W&B run per training run (its id from the run's key, resumed across gang attempts). Needs the `wandb` package (python/requirements.txt); online mode needs WANDB_API_KEY in the GPU worker's environment, never in the config.
 */
export interface WandbConfig {
  /**
   * W&B project.
   */
  project: string;
  /**
   * W&B team or user. Unset: the API key's default entity.
   */
  entity?: string;
  /**
   * online logs to the W&B server; offline writes a folder wandb/offline-run-<time>-<id> in the run's tracking folder on rank 0's worker, for a later `wandb sync`; disabled logs nothing. Unset: WANDB_MODE of the GPU worker's environment (W&B's default: online).
   */
  mode?: 'online' | 'offline' | 'disabled';
}
export interface EvalConfig {
  /**
   * HumanEval-format problems (jsonl or jsonl.gz).
   *
   * @default "file://./data/humaneval/HumanEval.jsonl.gz"
   */
  problems: string;
  /**
   * First N problems only; null for all.
   *
   * @default null
   */
  limit: number | null;
  /**
   * @default 1
   */
  samplesPerProblem: number;
  /**
   * pass@k values reported (k <= samplesPerProblem).
   *
   * @default [1]
   */
  k: number[];
  /**
   * 0 means greedy.
   *
   * @default 0
   */
  temperature: number;
  /**
   * @default 256
   */
  maxNewTokens: number;
  /**
   * Wall-clock limit per sample's test run.
   *
   * @default 10
   */
  timeoutSeconds: number;
  /**
   * Address-space limit per sample's test run.
   *
   * @default 1024
   */
  memoryMb: number;
  /**
   * Languages evaluated in one run. python reads `problems`; the others read `problemsByLanguage.<lang>` or the bundled HumanEval-X file data/humaneval-x/humaneval_<lang>.jsonl.gz. `limit` applies per language.
   *
   * @default ["python"]
   *
   * @minItems 1
   */
  languages: [
    'python' | 'javascript' | 'typescript' | 'go' | 'java' | 'rust' | 'cpp',
    ...('python' | 'javascript' | 'typescript' | 'go' | 'java' | 'rust' | 'cpp')[],
  ];
  /**
   * Explicit problem files per language (human-eval, HumanEval-X or MultiPL-E format), overriding the bundled ones.
   */
  problemsByLanguage: {
    [k: string]: string | undefined;
  };
  /**
   * The Codex paper's sampling settings. codex-pass@1: temperature 0.2, top-p 0.95, at least 20 samples, k [1]. codex-pass@10: temperature 0.8, top-p 0.95, at least 20 samples, k [1, 10]. codex-pass@100: temperature 0.8, top-p 0.95, at least 200 samples, k [1, 10, 100]. A preset sets temperature and topP, raises samplesPerProblem to its minimum and adds its k values.
   *
   * @default null
   */
  preset: 'codex-pass@1' | 'codex-pass@10' | 'codex-pass@100' | null;
  /**
   * Nucleus sampling when temperature > 0.
   *
   * @default 0.95
   */
  topP: number;
  /**
   * Sequences per forward pass during generation (left-padded, with a KV cache).
   *
   * @default 16
   */
  batchSize: number;
  /**
   * Problems per part: one generation activity (GPU queue) and one execution activity (data queue) each, memoized, so a lost worker redoes one part.
   *
   * @default 16
   */
  problemsPerPart: number;
  /**
   * Resamples of the problems for the 95% intervals of pass@k (seeded by the run's seed).
   *
   * @default 1000
   */
  bootstrapSamples: number;
  /**
   * HumanEval single-line infilling (the FIM paper's recipe on the canonical solutions of `problems`), scored by exact match; null to skip.
   *
   * @default null
   */
  infilling: {
    /**
     * First N infilling examples only; null for all.
     *
     * @default null
     */
    limit: number | null;
  } | null;
  /**
   * Checked before deploy: the deploy fails (non-retryably) when any language's pass@k drops more than maxDropPoints below the baseline's.
   *
   * @default null
   */
  gate: {
    /**
     * A baseline eval's metrics.json or eval stage folder; null skips the gate.
     *
     * @default null
     */
    baseline: string | null;
    /**
     * Largest drop allowed per language, in percentage points of pass@k.
     *
     * @default 5
     */
    maxDropPoints: number;
  } | null;
}
export interface DeployConfig {
  /**
   * @default "127.0.0.1"
   */
  host: string;
  /**
   * 0 picks a free port.
   *
   * @default 0
   */
  port: number;
  /**
   * @default "def fibonacci(n):\n"
   */
  smokePrompt: string;
  /**
   * ct2: CTranslate2 (CPU or GPU, batched), converted from the exported folder and checked token for token against transformers at deploy. hf: transformers, one request at a time (the reference). vllm: vLLM's OpenAI server, for GPU workers with vllm installed.
   *
   * @default "ct2"
   */
  engine: 'ct2' | 'hf' | 'vllm';
  /**
   * ct2 only. float32 reproduces transformers' greedy tokens exactly (the deploy's check runs in float32 on CPU); int8 quantizes the weights when loading (faster, tokens may differ); float16, bfloat16 and int8_float16 are for GPU workers.
   *
   * @default "float32"
   */
  computeType: 'float32' | 'int8' | 'int8_float32' | 'float16' | 'bfloat16' | 'int8_float16';
  /**
   * ct2 only: sequences that share one forward pass at most.
   *
   * @default 32
   */
  maxBatch: number;
  /**
   * CPU threads for the engine's math (ct2, hf); 0: one per core. 1 by default: the dev stack's workers and trainers share the cores.
   *
   * @default 1
   */
  threads: number;
}
