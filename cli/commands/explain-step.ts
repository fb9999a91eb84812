/**
 * kiln explain-step --run <workflow id> --step N [--json]
 * kiln explain-step --shards <dir|uri> --config <trainer config.json> --step N [--world-size W] [--json]
 *
 * Which source files were in the training batch at step N, per rank. With --run it reads the
 * run's training child workflow (`<id>/train`) from Temporal: its input names the shard folder
 * and holds the trainer config, so the answer uses exactly what the trainer used. Without a
 * server (or for a run elsewhere), pass the shard folder and the trainer config yourself.
 * Only the indexes and provenance files are fetched from a remote shard folder, never the shards.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import { ErrorType } from '../../contracts/errors.js';
import { runPythonTool } from '../../lib/pythonTool.js';
import { decodePayloads } from '../../lib/security/dataConverter.js';
import { connectClient } from '../../workers/connection.js';
import { fileUriToPath, store } from '../../lib/storage/index.js';
import { withTempDir } from '../../lib/workdirs.js';
import { isPortOpen } from '../stack.js';

const USAGE = `Usage: kiln explain-step --run <workflow id> --step N [--json] [--address host:port]
       kiln explain-step --shards <dir|uri> --config <trainer config.json> --step N [--world-size W] [--json]
`;

interface Source { repo: string; path: string; lang: string; token_start: number; token_end: number; doc_token_start?: number; fim?: string | null }
interface Explanation {
  step: number;
  world_size: number;
  micro_batch_size: number;
  grad_accum: number;
  samples_in_split: number;
  ranks: { rank: number; samples: { sample: number; sources: Source[]; missing?: string }[] }[];
}

interface RunData { shardsDir: string; trainer: unknown; worldSize?: number }

/** The training child workflow's input: shard folder, trainer config, gang shape. */
async function runData(runId: string, address: string): Promise<RunData> {
  const [host, port] = address.split(':');
  if (!(await isPortOpen(Number(port), host))) {
    throw new Error(`no Temporal server at ${address}: start it with \`kiln up\`, or pass --shards and --config`);
  }
  const client = await connectClient(address);
  try {
    const trainingId = runId.endsWith('/train') ? runId : `${runId}/train`;
    const history = await client.workflow.getHandle(trainingId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0];
    if (!payload) throw new Error(`workflow ${trainingId} has no input: did run ${runId} reach training?`);
    // A raw history holds the payload as stored: encrypted when KILN_CODEC_KEYS is set.
    const [plain] = await decodePayloads([payload]);
    const input = defaultPayloadConverter.fromPayload(plain!) as { shardsDir?: string; trainer?: unknown; nodes?: number; procsPerNode?: number };
    if (!input.shardsDir || !input.trainer) throw new Error(`the input of ${trainingId} names no shardsDir/trainer: pass --shards and --config`);
    const worldSize = input.nodes && input.procsPerNode ? input.nodes * input.procsPerNode : undefined;
    return { shardsDir: input.shardsDir, trainer: input.trainer, worldSize };
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: number };
    if (e.name === 'WorkflowNotFoundError' || e.code === 5 || /NOT_FOUND/.test(e.message ?? '')) throw new Error(`no workflow ${runId}/train on ${address}: did run ${runId} reach training?`, { cause: err });
    throw err;
  } finally {
    await client.connection.close();
  }
}

/** A local folder with <split>/index.json and the provenance files (local dirs are used as they are). */
async function localShards(dir: string, tmp: string): Promise<string> {
  if (dir.startsWith('file://')) return fileUriToPath(dir);
  if (!/^[a-z0-9]+:\/\//.test(dir)) return dir;
  const local = join(tmp, 'shards');
  const prefix = dir.replace(/\/+$/, '');
  for (const { uri } of await store.list(prefix)) {
    const rel = uri.slice(prefix.length + 1);
    if (!/(^|\/)(index\.json|provenance\.parquet)$/.test(rel)) continue;
    mkdirSync(join(local, rel, '..'), { recursive: true });
    await store.download(uri, join(local, rel));
  }
  return local;
}

function printTable(x: Explanation): void {
  const per = x.micro_batch_size * x.grad_accum;
  process.stdout.write(
    `step ${x.step}: world size ${x.world_size}, ${x.grad_accum} micro-batch(es) of ${x.micro_batch_size} per rank ` +
      `= ${per} sample(s) per rank, ${x.samples_in_split} train samples\n`,
  );
  for (const { rank, samples } of x.ranks) {
    const files = new Set(samples.flatMap((s) => s.sources.map((src) => `${src.repo}/${src.path}`)));
    process.stdout.write(`\nrank ${rank}: ${samples.length} sample(s) from ${files.size} file(s)\n`);
    const rows = [['sample', 'tokens', 'repo', 'path', 'lang', 'fim']];
    for (const s of samples) {
      if (s.missing) rows.push([String(s.sample), '-', '(no provenance recorded)', s.missing, '', '']);
      s.sources.forEach((src, i) =>
        rows.push([i ? '' : String(s.sample), `${src.token_start}-${src.token_end}`, src.repo || '?', src.path || '?', src.lang || '?', src.fim ?? '']),
      );
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) process.stdout.write(`  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}\n`);
  }
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        run: { type: 'string' },
        step: { type: 'string' },
        shards: { type: 'string' },
        config: { type: 'string' },
        'world-size': { type: 'string' },
        json: { type: 'boolean', default: false },
        address: { type: 'string', default: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' },
      },
    }));
  } catch (err) {
    process.stderr.write(`kiln explain-step: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const step = Number(values.step);
  if (!Number.isInteger(step) || step < 1 || (!values.run && !(values.shards && values.config))) {
    process.stderr.write(`kiln explain-step: need --step N (N >= 1) and either --run or --shards with --config\n${USAGE}`);
    return 2;
  }
  return withTempDir('explain-step', async (tmp) => {
    let shards: string;
    let configPath: string;
    let worldSize = values['world-size'] ? Number(values['world-size']) : undefined;
    try {
      if (values.run) {
        const data = await runData(values.run, values.address!);
        shards = data.shardsDir;
        configPath = join(tmp, 'trainer.json');
        writeFileSync(configPath, JSON.stringify(data.trainer));
        worldSize ??= data.worldSize;
      } else {
        shards = values.shards!;
        configPath = values.config!;
      }
      shards = await localShards(shards, tmp);
    } catch (err) {
      process.stderr.write(`kiln explain-step: ${(err as Error).message}\n`);
      return 1;
    }
    const args = ['--data', shards, '--config', configPath, '--step', String(step), ...(worldSize ? ['--world-size', String(worldSize)] : [])];
    const result = await runPythonTool('kiln_trainer.explain_step', args, { fatalType: ErrorType.InvalidInput });
    const explained = result.events.find((e) => e.event === 'explain') as unknown as Explanation | undefined;
    if (result.exitCode !== 0 || !explained) {
      const error = result.events.find((e) => e.event === 'error');
      process.stderr.write(`kiln explain-step: ${String(error?.message ?? result.stderrTail.trim())}\n`);
      return 1;
    }
    if (values.json) process.stdout.write(`${JSON.stringify(explained, null, 2)}\n`);
    else printTable(explained);
    return 0;
  });
}
