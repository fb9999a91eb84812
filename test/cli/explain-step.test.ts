// kiln explain-step --run: the shard folder and trainer config come from the run's training child
// workflow input on a real local Temporal server (no worker needed: the input is in its history).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { run as explainStep } from '../../cli/commands/explain-step.js';
import { ErrorType } from '../../contracts/errors.js';
import { pythonExecutable } from '../../lib/python.js';
import { runPythonTool } from '../../lib/pythonTool.js';
import { fileUri } from '../../lib/storage/index.js';
import { startTestServer } from '../support/temporal.js';

const tmp = mkdtempSync(join(tmpdir(), 'kiln-explain-'));
let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => {
  await env?.teardown();
  rmSync(tmp, { recursive: true, force: true });
});

async function tool(module: string, args: string[]) {
  const run = await runPythonTool(module, args, { fatalType: ErrorType.InvalidInput });
  assert.equal(run.exitCode, 0, run.stderrTail);
}

async function capture(body: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const [out, err] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  const seen = { out: '', err: '' };
  process.stdout.write = ((c: string | Uint8Array) => ((seen.out += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((seen.err += String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await body(), ...seen };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('kiln explain-step --run', () => {
  it('reads the run from Temporal and names the files of each rank', async () => {
    const docs = Array.from({ length: 60 }, (_, i) => `def f${i}(x):\n    return x * ${i}\n`.repeat(1 + (i % 3)));
    const script = `import pyarrow as pa, pyarrow.parquet as pq, json, sys
docs = json.loads(sys.argv[2])
pq.write_table(pa.table({"content": docs, "lang": ["Python"] * len(docs), "max_stars_repo_name": ["org/r"] * len(docs),
                         "max_stars_repo_path": [f"m{i}.py" for i in range(len(docs))]}), sys.argv[1])`;
    const parquet = join(tmp, 'a.parquet');
    execFileSync(pythonExecutable(), ['-c', script, parquet, JSON.stringify(docs)]);
    await tool('kiln_native.tokenizer_train', ['--input', parquet, '--out', join(tmp, 'tok'), '--vocab-size', '300', '--sample-docs', '60', '--heldout-docs', '0']);
    await tool('kiln_native.shard', ['--input', parquet, '--tokenizer', join(tmp, 'tok', 'tokenizer.json'), '--out', join(tmp, 'shards'), '--seq-len', '16', '--val-fraction', '0']);

    const trainer = { seed: 2, vocabSize: 300, seqLen: 16, eosTokenId: 0, model: { nLayer: 1, nHead: 2, dModel: 16 }, train: { nodes: 1, microBatchSize: 3 } };
    // The child workflow's input, as llmPipeline starts it; no worker polls this queue.
    await env.client.workflow.start('trainingRun', {
      taskQueue: 'nobody-polls-this',
      workflowId: 'explain-1/train',
      args: [{ runKey: 'k', trainer, shardsDir: fileUri(join(tmp, 'shards')), checkpointsUri: 'file:///nowhere', nodes: 2, procsPerNode: 1 }],
    });
    const json = await capture(() => explainStep(['--run', 'explain-1', '--step', '4', '--json', '--address', env.address]));
    assert.equal(json.code, 0, json.err);
    const explained = JSON.parse(json.out) as { world_size: number; ranks: { samples: { sources: { repo: string; path: string }[] }[] }[] };
    assert.equal(explained.world_size, 2, 'the gang shape comes from the workflow input');
    assert.deepEqual(explained.ranks.map((r) => r.samples.length), [3, 3]);
    assert.ok(explained.ranks.every((r) => r.samples.every((s) => s.sources.length > 0 && s.sources.every((x) => x.repo === 'org/r' && /^m\d+\.py$/.test(x.path)))));

    const missing = await capture(() => explainStep(['--run', 'no-such-run', '--step', '1', '--address', env.address]));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no workflow no-such-run\/train/);
  });
});
