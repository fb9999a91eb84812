/**
 * Scale benchmark (issue 9 §4), not a test:
 *  1. the data stages (ingest -> clean -> dedup -> tokenizer -> shard, as llmPipeline runs them)
 *     on the shared sample with 1, 2 and 4 data worker processes: wall time, speed-up, CPU
 *     seconds, peak RSS per worker, rows;
 *  2. the same on a synthetic corpus 20x the sample (generated once, cached) to show memory per
 *     worker stays flat while time grows with the data;
 *  3. N tiny pipelines (configs/tiny.json, the real llmPipeline) started at once on one stack.
 *
 *   npm run bench:scale -- [--parts data,data20x,pipelines] [--workers 1,2,4] [--workers-20x 2,4]
 *                          [--scale 20] [--pipelines 20] [--steps 60] [--nodes 2] [--gpu-workers 4] [--deadline 60]
 *                          [--artifacts per-run|shared|both] [--json]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileUriToPath, fileUri } from '../lib/storage/index.js';
import { repoRoot } from '../lib/workdirs.js';
import { startTestServer } from '../test/support/temporal.js';
import { DEFAULT_SOURCE } from './bench/sample.js';
import { bundleDataStages, runDataStages, type DataRun } from './bench/scaleData.js';
import { runPipelines, type PipelinesRun } from './bench/scalePipelines.js';
import { ensureSynthetic } from './bench/synthetic.js';

const HELP = `Usage: npm run bench:scale -- [options]

Measures how kiln scales (issue 9 section 4). Progress goes to stderr, the tables (or JSON) to stdout.

  --parts LIST         which parts to run, comma-separated (default data,data20x,pipelines):
                         data       data stages on the shared sample with --workers data worker processes
                         data20x    the same on a synthetic corpus --scale times the sample (--workers-20x)
                         pipelines  --pipelines tiny pipelines started at once on one stack
  --source URI         the sample (default ../shared/data/stack-sample/data)
  --languages LIST     only these language folders of the sample (and of the synthetic corpus), e.g. c,css,php;
                       default all
  --workers LIST       data worker processes per run on the sample (default 1,2,4)
  --workers-20x LIST   data worker processes per run on the synthetic corpus (default 2,4)
  --scale N            copies of the sample in the synthetic corpus (default 20)
  --fraction F         use only the first F (0 < F <= 1) of the rows of every sample file, all languages kept, in both
                       the sample runs (a generated 1x corpus) and the synthetic one: for a machine too loaded for the
                       whole 20x corpus (default 1: the whole sample)
  --cache DIR          where the synthetic corpus is generated once (missing files only) (default .kiln/bench/stack-<N>x)
  --bytes-per-part N   ingest.bytesPerPart on the sample (default 262144; times N/4 on the synthetic corpus)
  --pipelines N        tiny pipelines started at once (default 20)
  --steps N            training steps of each tiny pipeline (default: configs/tiny.json's, 60)
  --nodes N            training nodes per tiny pipeline (default: configs/tiny.json's, 2)
  --gpu-workers N      GPU worker processes in the pipelines' stack (default 4: two 2-node gangs at a time, so gangs share the pool)
  --deadline MIN       minutes to wait for the pipelines; runs still open then are reported with where they stand (default 60)
  --artifacts MODE     per-run (each pipeline its own artifacts root), shared (one root), or both (default per-run)
  --json               print the results as JSON instead of tables
  --tables FILE        print the tables of saved results (.kiln/bench/scale-last-<parts>.json, written after every run) and exit
  -h, --help           this text
`;

const { values } = parseArgs({
  options: {
    parts: { type: 'string', default: 'data,data20x,pipelines' },
    source: { type: 'string', default: DEFAULT_SOURCE },
    languages: { type: 'string', default: '' },
    workers: { type: 'string', default: '1,2,4' },
    'workers-20x': { type: 'string', default: '2,4' },
    scale: { type: 'string', default: '20' },
    fraction: { type: 'string', default: '1' },
    cache: { type: 'string' },
    'bytes-per-part': { type: 'string', default: String(256 * 1024) },
    pipelines: { type: 'string', default: '20' },
    steps: { type: 'string', default: '60' },
    nodes: { type: 'string', default: '2' },
    'gpu-workers': { type: 'string', default: '4' },
    deadline: { type: 'string', default: '60' },
    artifacts: { type: 'string', default: 'per-run' },
    json: { type: 'boolean', default: false },
    tables: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const ints = (s: string, flag: string) =>
  list(s).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`${flag}: expected positive integers, got ${JSON.stringify(x)}`);
      process.exit(2);
    }
    return n;
  });
const parts = new Set(list(values.parts));
function usageError(message: string): never {
  console.error(message);
  process.exit(2);
}
for (const p of parts) if (!['data', 'data20x', 'pipelines'].includes(p)) usageError(`--parts: unknown part ${JSON.stringify(p)} (data, data20x, pipelines)`);
if (!['per-run', 'shared', 'both'].includes(values.artifacts)) usageError(`--artifacts: per-run, shared or both, got ${JSON.stringify(values.artifacts)}`);
const [scale] = ints(values.scale, '--scale');
const fraction = Number(values.fraction);
if (!(fraction > 0 && fraction <= 1)) usageError(`--fraction: expected a number in (0, 1], got ${JSON.stringify(values.fraction)}`);
const cut = fraction < 1 ? `-f${fraction}` : '';
const [bytesPerPart] = ints(values['bytes-per-part'], '--bytes-per-part');
const [pipelines] = ints(values.pipelines, '--pipelines');
const [steps] = ints(values.steps, '--steps');
const [nodes] = ints(values.nodes, '--nodes');
const [gpuWorkers] = ints(values['gpu-workers'], '--gpu-workers');
const [deadlineMinutes] = ints(values.deadline, '--deadline');
const workers1x = ints(values.workers, '--workers');
const workers20x = ints(values['workers-20x'], '--workers-20x');
const cores = availableParallelism();
const scratch = join(repoRoot, '.kiln/bench/scale-runs');
const LAST = join(repoRoot, `.kiln/bench/scale-last-${[...parts].sort().join('+')}.json`);
// Workers may write only under their allowed roots: the benchmark's scratch folder.
process.env.KILN_ALLOWED_ROOTS ??= fileUri(scratch);

const languages = list(values.languages);
/** The source URI for a corpus folder: all of it, or a glob of the chosen language folders. */
const sourceOf = (dirUri: string) => (languages.length === 0 ? dirUri : `${dirUri.replace(/\/$/, '')}/${languages.length === 1 ? languages[0] : `{${languages.join(',')}}`}/*.parquet`);

const log = (line: string) => process.stderr.write(`${line}\n`);
/** Saves the results so far (a run cut short keeps the runs it finished). */
const save = () => {
  mkdirSync(dirname(LAST), { recursive: true });
  writeFileSync(LAST, JSON.stringify(results, null, 2) + '\n');
};
const summary = (r: DataRun) =>
  `  ${r.wallSeconds.toFixed(1)} s wall, ${r.workerCpuSeconds.toFixed(1)} CPU s in workers, peak RSS per worker ${r.workers_.map((w) => `${w.peakRssMb}`).join('/')} MB, rows ${r.rowsIn} -> ${r.rowsOut}`;
const load = () => loadavg().map((l) => l.toFixed(2)).join(', ');

interface Results {
  cores: number;
  languages: string[];
  /** Share of each sample file's rows used (1: the whole sample). */
  fraction?: number;
  note: string;
  data: DataRun[];
  data20x: DataRun[];
  synthetic?: { dir: string; files: number; bytes: number; copies: number; method: string };
  pipelines: PipelinesRun[];
  load: { start: number[]; end?: number[] };
}
const results: Results = {
  cores,
  languages,
  fraction,
  note: `${cores} cores: data-stage speed-up is bounded by ${cores}; the machine was shared with other jobs (load averages recorded per run)`,
  data: [],
  data20x: [],
  pipelines: [],
  load: { start: loadavg() },
};

async function main(): Promise<void> {
  if (languages.length) log(`languages: ${languages.join(', ')} (source ${sourceOf(values.source)})`);
  log(`bench:scale on ${cores} cores (speed-up bounded by ${cores}); load average now ${load()}`);
  if (parts.has('data') || parts.has('data20x')) {
    log('starting the Temporal dev server and bundling the dataStagesOnly workflow...');
    const env = await startTestServer();
    try {
      const bundle = await bundleDataStages();
      const samplePath = fileUriToPath(values.source.startsWith('file:') ? values.source : fileUri(resolve(values.source)));
      // A cut sample is a generated corpus of its own (copy 0 of the first rows of each file).
      const sampleUri = fraction < 1 ? fileUri(ensureSynthetic(samplePath, 1, join(repoRoot, `.kiln/bench/stack-1x${cut}`), languages, log, fraction).dir) : values.source;
      if (parts.has('data')) {
        for (const w of workers1x) {
          log(`data stages, sample${cut}, ${w} data worker process(es), bytesPerPart ${bytesPerPart} (load ${load()})...`);
          const r = await runDataStages({ env, bundle, dataset: `sample${cut}`, source: sourceOf(sampleUri), workers: w, bytesPerPart, scratch, log });
          log(summary(r));
          results.data.push(r);
          save();
        }
      }
      if (parts.has('data20x')) {
        const cache = resolve(values.cache ?? join(repoRoot, `.kiln/bench/stack-${scale}x${cut}`));
        const synth = ensureSynthetic(samplePath, scale!, cache, languages, log, fraction);
        results.synthetic = { dir: synth.dir, files: synth.files, bytes: synth.bytes, copies: scale!, method: 'copy k of each sample file with every non-keyword identifier (in code, strings and comments) renamed by rotating its ASCII letters k places; copy 0 unchanged' };
        log(`synthetic corpus: ${synth.files} files, ${(synth.bytes / 1e6).toFixed(0)} MB in ${synth.dir}${synth.generated ? ` (${synth.generated} source files generated now)` : ' (cached)'}`);
        const part = Math.round((bytesPerPart! * scale!) / 4);
        for (const w of workers20x) {
          const ref = results.data.find((r) => r.workers === w) ?? results.data.find((r) => r.workers === 1);
          const estimate = ref ? `estimate ~${Math.round((ref.wallSeconds * scale! * (ref.workers === w ? 1 : ref.workers / Math.min(w, cores))) / 60)} min from the sample run` : 'no sample run to estimate from';
          log(`data stages, ${scale}x, ${w} data worker process(es), bytesPerPart ${part}: ${estimate} (load ${load()})...`);
          const r = await runDataStages({ env, bundle, dataset: `${scale}x${cut}`, source: sourceOf(fileUri(synth.dir)), workers: w, bytesPerPart: part, scratch, log });
          log(summary(r));
          results.data20x.push(r);
          save();
        }
      }
    } finally {
      await env.teardown();
    }
  }
  if (parts.has('pipelines')) {
    for (const mode of values.artifacts === 'both' ? (['per-run', 'shared'] as const) : [values.artifacts as 'per-run' | 'shared']) {
      log(`${pipelines} tiny pipelines at once, ${steps} training steps on ${nodes} node(s) each, ${gpuWorkers} GPU workers, artifacts ${mode} (load ${load()})...`);
      const r = await runPipelines({ pipelines: pipelines!, steps: steps!, nodes: nodes!, gpuWorkers: gpuWorkers!, deadlineSeconds: deadlineMinutes! * 60, artifacts: mode, scratch, log });
      log(`  ${r.finished}/${r.pipelines} finished, ${r.failed.length} failed, ${r.stuck.length} unfinished after ${r.totalSeconds.toFixed(0)} s`);
      results.pipelines.push(r);
      save();
    }
  }
  results.load.end = loadavg();
  save();
  log(`results also in ${LAST}`);
  if (values.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  else printTables();
}

const f1 = (n: number) => n.toFixed(1);
const loads = (l: number[]) => l.map((x) => x.toFixed(1)).join('/');
function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const width = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padStart(width[i]!)).join(' | ') + ' |';
  return [line(head), '|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map((r) => line(r.map(String)))].join('\n');
}

function dataTable(runs: DataRun[], title: string): void {
  if (!runs.length) return;
  const base = runs.find((r) => r.workers === 1) ?? runs[0]!;
  console.log(`\n${title}`);
  console.log(
    table(
      ['workers', 'wall s', `speed-up vs ${base.workers}`, 'worker CPU s', 'bench CPU s', 'peak RSS per worker MB (with tools)', 'rows in', 'after clean', 'rows out (dedup)', 'tokens', 'load 1/5/15 before', 'load during mean/max'],
      runs.map((r) => [
        r.workers,
        f1(r.wallSeconds),
        (base.wallSeconds / r.wallSeconds).toFixed(2) + 'x',
        f1(r.workerCpuSeconds),
        f1(r.benchCpuSeconds),
        r.workers_.map((w) => `${w.peakRssMb} (${w.peakTreeRssMb})`).join(', '),
        r.rowsIn,
        r.rowsAfterClean,
        r.rowsOut,
        r.tokens ?? '-',
        loads(r.load.before),
        r.load.during ? loads([r.load.during.mean, r.load.during.max]) : '-',
      ]),
    ),
  );
  const stages = ['ingest', 'clean', 'dedup', 'tokenizer', 'shard'];
  console.log(table(['workers', ...stages.map((s) => `${s} s`)], runs.map((r) => [r.workers, ...stages.map((s) => (r.stageSeconds[s] === undefined ? '-' : f1(r.stageSeconds[s]!)))])));
}

function printTables(): void {
  console.log(`\nMachine: ${cores} cores, so data-stage speed-up is bounded by ${cores}x. Shared with other jobs: load averages (1/5/15 min) at start ${loads(results.load.start)}, at end ${loads(results.load.end ?? [])}.`);
  console.log('Wall time: workflow start -> result, workers already polling. Worker CPU: utime+stime+cutime+cstime from /proc of every data worker process (children: tokenizer and shard tools).');
  console.log('Peak RSS: VmHWM of each worker process; in brackets the peak of the sampled sum of the process and its live children.');
  const share = (results.fraction ?? 1) < 1 ? `the first ${results.fraction! * 100}% of the rows of every file, all languages` : '';
  const subset = [languages.length ? `languages ${languages.join(', ')} only` : '', share].filter(Boolean).map((x) => ` (${x})`).join('');
  dataTable(results.data, `Data stages on the shared sample${subset}`);
  if (results.synthetic) {
    const s = results.synthetic;
    console.log(`\nSynthetic corpus: ${s.copies}x the sample, ${s.files} files, ${(s.bytes / 1e6).toFixed(0)} MB Parquet; ${s.method}.`);
  }
  dataTable(results.data20x, `Data stages on the synthetic ${scale}x corpus${subset}`);
  if (results.data.length && results.data20x.length) {
    console.log('\nMemory and time, sample vs synthetic, same worker count:');
    console.log(
      table(
        ['workers', 'wall s 1x', `wall s ${scale}x`, 'time ratio', 'max peak RSS MB 1x', `max peak RSS MB ${scale}x`],
        results.data20x.flatMap((big) => {
          const small = results.data.find((r) => r.workers === big.workers);
          if (!small) return [];
          const peak = (r: DataRun) => Math.max(...r.workers_.map((w) => w.peakRssMb));
          return [[big.workers, f1(small.wallSeconds), f1(big.wallSeconds), (big.wallSeconds / small.wallSeconds).toFixed(1) + 'x', peak(small), peak(big)]];
        }),
      ),
    );
  }
  for (const p of results.pipelines) {
    const t = p.runSeconds;
    const med = t.length ? t[Math.floor((t.length - 1) / 2)]! : NaN;
    console.log(`\n${p.pipelines} tiny pipelines started at once (configs/tiny.json, ${p.steps} training steps, ${p.nodes} CPU node(s) each, ${p.gpuWorkers ?? 2} GPU workers), artifacts ${p.artifacts === 'shared' ? 'in one shared root (each run its own seed and name)' : 'each in its own root (and its own seed and name)'}`);
    const tr = p.training ?? [];
    const sum = (k: 'gangRestarts' | 'attempts') => tr.reduce((a, x) => a + x[k], 0);
    console.log(
      table(
        ['finished', 'failed', 'unfinished', 'run s min', 'median', 'max', 'max/median', 'total wall s', 'gang restarts (sum/max)', 'load before', 'load during mean/max', 'load after'],
        [
          [
            `${p.finished}/${p.pipelines}`,
            p.failed.length,
            p.stuck?.length ?? 0,
            f1(t[0] ?? NaN),
            f1(med),
            f1(t.at(-1) ?? NaN),
            (t.at(-1)! / med).toFixed(2),
            f1(p.totalSeconds),
            tr.length ? `${sum('gangRestarts')}/${Math.max(...tr.map((x) => x.gangRestarts))}` : '-',
            loads(p.load.before),
            p.load.during ? loads([p.load.during.mean, p.load.during.max]) : '-',
            loads(p.load.after),
          ],
        ],
      ),
    );
    console.log(table(['process', 'CPU s', 'peak RSS MB', 'peak RSS with children MB'], p.processes.map((w) => [w.name, f1(w.cpuSeconds), w.peakRssMb, w.peakTreeRssMb])));
    if (p.memory?.length) {
      console.log('RSS over time (MB; workers: the data and GPU worker processes themselves, without trainers or servers they started):');
      console.log(table(['s', 'server', 'workers'], p.memory.map((m) => [m.t, m.serverMb, m.workersMb])));
    }
    if (p.histories) {
      console.log('History sizes (every workflow run on the server, continue-as-new runs apart):');
      console.log(table(['workflow type', 'runs', 'max events', 'max KB'], Object.entries(p.histories.byType).map(([k, v]) => [k, v.runs, v.maxEvents, (v.maxBytes / 1024).toFixed(0)])));
    }
    for (const f of p.failed) console.log(`  failed: ${f.id}: ${f.error}`);
    for (const s of p.stuck ?? []) console.log(`  unfinished at the deadline: ${JSON.stringify(s)}`);
  }
}

if (values.tables) {
  // Tables of an earlier run's saved results (e.g. one cut short).
  Object.assign(results, JSON.parse(readFileSync(values.tables, 'utf8')) as Results);
  printTables();
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
