// The shard stage's commit step: the parts' MDS indexes merged into one per split (streaming's
// merge_index), their counts added up.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { joinUri, type ManifestFile, type StageWork } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { publishDir } from '../nativeStage.js';
import { runShardTool, SPLITS, type ShardPartPlan, type ShardPartResult } from './tool.js';

export function partMarker(dir: string, part: string): string {
  return joinUri(dir, '_parts', `${part}.json`);
}

/** What a part recorded: its result and the files it wrote. */
export async function readPartMarker(dir: string, part: string): Promise<ShardPartResult & { outputs: ManifestFile[] }> {
  return JSON.parse(Buffer.from(await store.readBytes(partMarker(dir, part))).toString('utf8'));
}

export async function mergeParts(dir: string, parts: ShardPartResult[], plans: ShardPartPlan[], tmp: string, seqLen: number): Promise<StageWork> {
  const expected = plans.map((p) => p.part).sort();
  const got = parts.map((p) => p.part).sort();
  if (expected.join() !== got.join()) throw fatal(ErrorType.InvalidInput, `shard merge: parts ${got.join(',')} do not match the plan ${expected.join(',')}`);
  const outputs: ManifestFile[] = [];
  const root = join(tmp, 'merge');
  for (const { part } of parts) {
    outputs.push(...(await readPartMarker(dir, part)).outputs);
    for (const split of SPLITS) {
      const local = join(root, split, part, 'index.json');
      mkdirSync(dirname(local), { recursive: true });
      await store.download(joinUri(dir, split, part, 'index.json'), local);
    }
  }
  await runShardTool(['--merge', '--out', root]);
  const indexes = join(tmp, 'indexes');
  for (const split of SPLITS) {
    mkdirSync(join(indexes, split), { recursive: true });
    copyFileSync(join(root, split, 'index.json'), join(indexes, split, 'index.json'));
  }
  outputs.push(...(await publishDir(indexes, dir)));
  const stats: Record<string, number> = {};
  for (const { stats: s } of parts) for (const [k, v] of Object.entries(s)) if (k !== 'seq_len') stats[k] = (stats[k] ?? 0) + v;
  return { outputs: outputs.sort((a, b) => a.uri.localeCompare(b.uri)), stats: { ...stats, seq_len: seqLen, parts: parts.length, seqLen } };
}
