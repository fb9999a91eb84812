// The shard stage fanned out over partitions (one activity per input file, run in any order)
// writes the same bytes as the shard tool run at once; a committed stage and a committed part
// are reused; the tokenizer stage records chars/token per language on held-out files.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { planParts, shardPartStage, shardStage, type ShardFanOut, type ShardStageInput } from '../../activities/shard/index.js';
import { tokenizerStage } from '../../activities/tokenizer.js';
import { run as explainStep } from '../../cli/commands/explain-step.js';
import type { StageResult } from '../../lib/manifest.js';
import { runPythonTool } from '../../lib/pythonTool.js';
import { ErrorType } from '../../contracts/errors.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { listLocalFiles } from '../../lib/syncDir.js';
import { stackRow, tmpDir, writeRows } from './fixtures.js';

const SNIPPETS = [
  'def add(a, b):\n    return a + b\n',
  'class Stack:\n    def push(self, x):\n        self.items.append(x)\n',
  'func main() {\n\tfmt.Println("hi")\n}\n',
  'for i in range(10):\n    print(i * i)\n',
];

function inputStage(dir: string): StageResult {
  const files = ['lang=go/part-00000.parquet', 'lang=python/part-00000.parquet'].map((name, f) => {
    const rows = Array.from({ length: 40 }, (_, i) =>
      stackRow(`# ${name} ${i}\n${SNIPPETS[(i + f) % SNIPPETS.length]!.repeat(1 + (i % 4))}`, {
        lang: f ? 'Python' : 'Go', max_stars_repo_name: `org/repo${f}`, max_stars_repo_path: `src/f${i}`,
      }),
    );
    writeRows(join(dir, name), rows);
    return fileUri(join(dir, name));
  });
  return { stage: 'dedup', fingerprint: 'd'.repeat(64), dir: fileUri(dir), manifestUri: '', outputs: files, stats: {}, reused: false };
}

async function captureStdout(body: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
  try {
    return { code: await body(), out };
  } finally {
    process.stdout.write = write;
  }
}

function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of listLocalFiles(dir)) {
    const rel = relative(dir, file);
    if (rel.startsWith('_')) continue; // manifest and part markers
    out[rel] = createHash('sha256').update(readFileSync(file)).digest('hex');
  }
  return out;
}

describe('shard stage fan-out', () => {
  const tmp = tmpDir('kiln-shard-');
  const root = fileUri(join(tmp, 'artifacts'));
  const params = { seqLen: 32, valFraction: 0.2, fimRate: 0.5, fimSpmRate: 0.5, shardSizeLimit: 2048, compression: null };
  let args: ShardStageInput;
  let tokenizer: StageResult;

  before(async () => {
    const input = inputStage(join(tmp, 'dedup'));
    tokenizer = await tokenizerStage({ artifactsRoot: root, input, params: { vocabSize: 400, sampleDocs: 40, minFrequency: 2, heldoutDocs: 30 }, seed: 1 });
    args = { artifactsRoot: root, input, tokenizer, params, seed: 7 };
  });

  it('records chars/token per language on the held-out documents', () => {
    const cpt = tokenizer.stats.charsPerToken as Record<string, number>;
    assert.deepEqual(Object.keys(cpt).sort(), ['Go', 'Python']);
    assert.ok(Object.values(cpt).every((x) => x > 1), JSON.stringify(cpt));
    assert.equal(tokenizer.stats.heldoutDocs, 30);
  });

  it('plans one part per file, runs them in any order, merges to the bytes of a single run', async () => {
    const first = (await shardStage(args)) as ShardFanOut;
    assert.equal(first.fanOut, true);
    assert.deepEqual(first.parts.map((p) => p.part), ['part-00000', 'part-00001']);
    const parts = [];
    for (const plan of [...first.parts].reverse()) parts.push(await shardPartStage({ ...args, ...plan, dir: first.dir }));
    const again = await shardPartStage({ ...args, ...first.parts[0]!, dir: first.dir });
    assert.deepEqual(again, parts[1], 'a committed part is reused');
    const result = (await shardStage({ ...args, parts })) as StageResult;
    assert.equal(result.dir, first.dir);
    assert.ok(result.outputs.includes(`${first.dir}/train/index.json`));
    assert.ok(result.outputs.some((u) => u.endsWith('/train/part-00001/provenance.parquet')));
    assert.equal(result.stats.parts, 2);
    assert.equal(result.stats.docs, 80);
    assert.ok((result.stats.spm_docs as number) > 0 && (result.stats.fim_docs as number) > (result.stats.spm_docs as number));

    // The same inputs through the tool in one go (both partitions in one process).
    const single = join(tmp, 'single');
    const tokenizerJson = fileUriToPath(String(tokenizer.stats.tokenizerUri));
    const run = await runPythonTool('kiln_native.shard', [
      '--input', ...planParts(args.input).map((p) => fileUriToPath(p.files[0]!)), '--tokenizer', tokenizerJson, '--out', single,
      '--seq-len', '32', '--val-fraction', '0.2', '--fim-rate', '0.5', '--fim-spm-rate', '0.5', '--seed', '7', '--size-limit', '2048',
    ], { fatalType: ErrorType.InvalidInput });
    assert.equal(run.exitCode, 0, run.stderrTail);
    assert.deepEqual(filesOf(fileUriToPath(result.dir)), filesOf(single));

    const reused = (await shardStage(args)) as StageResult;
    assert.equal(reused.reused, true);
    assert.equal(reused.fingerprint, result.fingerprint);

    // kiln explain-step on the merged folder: each rank's samples and their files.
    const config = join(tmp, 'trainer.json');
    writeFileSync(config, JSON.stringify({ seed: 3, vocabSize: 400, seqLen: 32, eosTokenId: 0, model: { nLayer: 1, nHead: 2, dModel: 16 }, train: { nodes: 2, microBatchSize: 2, gradAccum: 1 } }));
    const json = await captureStdout(() => explainStep(['--shards', result.dir, '--config', config, '--step', '2', '--json']));
    assert.equal(json.code, 0);
    const explained = JSON.parse(json.out) as { world_size: number; ranks: { rank: number; samples: { sample: number; sources: { repo: string; path: string }[] }[] }[] };
    assert.equal(explained.world_size, 2);
    assert.deepEqual(explained.ranks.map((r) => r.samples.length), [2, 2]);
    const files = explained.ranks.flatMap((r) => r.samples.flatMap((s) => s.sources.map((x) => `${x.repo}/${x.path}`)));
    assert.ok(files.length >= 4 && files.every((f) => /^org\/repo[01]\/src\/f\d+$/.test(f)), files.join(' '));
    const table = await captureStdout(() => explainStep(['--shards', result.dir, '--config', config, '--step', '2']));
    assert.match(table.out, /^step 2: world size 2/);
    assert.match(table.out, /rank 1: 2 sample\(s\) from \d+ file\(s\)/);
    assert.ok(files.every((f) => table.out.includes(f.split('/').slice(2).join('/'))));
    const bad = await captureStdout(() => explainStep(['--shards', result.dir, '--config', config, '--step', '0']));
    assert.equal(bad.code, 2);
  });

  it('fails non-retryably when the input stage has no Parquet files', async () => {
    await assert.rejects(shardStage({ ...args, input: { ...args.input, outputs: [] } }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable && err.type === ErrorType.InvalidInput);
      assert.match(err.message, /no Parquet files/);
      return true;
    });
  });
});
