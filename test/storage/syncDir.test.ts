// downloadDirOnce shared by several worker processes on one host (two gang nodes share the
// shard cache): each process must see a complete folder, and a folder another process
// published, and may be reading, is never removed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { fileUri } from '../../lib/storage/index.js';
import { renameIntoPlace } from '../../lib/syncDir.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-syncdir-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function folder(path: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(path, ...name.split('/').slice(0, -1)), { recursive: true });
    writeFileSync(join(path, name), text);
  }
  return path;
}

describe('renameIntoPlace', () => {
  test('the second of two copies is dropped; the published one stays in place (same inode)', () => {
    const local = join(dir, 'pub', 'shards');
    mkdirSync(local, { recursive: true }); // what cacheDir leaves: an empty folder
    renameIntoPlace(folder(join(dir, 'pub', 'a'), { '.complete': '', 'x.bin': 'from a' }), local);
    const inode = statSync(local).ino;
    renameIntoPlace(folder(join(dir, 'pub', 'b'), { '.complete': '', 'x.bin': 'from b' }), local);
    assert.equal(statSync(local).ino, inode);
    assert.equal(readFileSync(join(local, 'x.bin'), 'utf8'), 'from a');
    assert.equal(existsSync(join(dir, 'pub', 'b')), false, 'the losing copy is removed');
  });

  test('an incomplete folder in the way is replaced', () => {
    const local = folder(join(dir, 'stale', 'shards'), { 'half.bin': 'cut short' });
    renameIntoPlace(folder(join(dir, 'stale', 'a'), { '.complete': '', 'x.bin': 'whole' }), local);
    assert.deepEqual(readdirSync(local).sort(), ['.complete', 'x.bin']);
    assert.deepEqual(readdirSync(join(dir, 'stale')), ['shards']);
  });
});

describe('downloadDirOnce across processes', () => {
  test('six processes fetching one folder at once each read it whole', async () => {
    const files = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`part-${i % 4}/shard.${i}.mds`, `shard ${i} `.repeat(200)]));
    const source = folder(join(dir, 'source'), files);
    const local = join(dir, 'cache', 'shards');
    // Each child downloads, then at once checks that every file is there with its content.
    const child = `
      import { readFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { downloadDirOnce } from './lib/syncDir.ts';
      const [source, local, expected, startAt] = process.argv.slice(1);
      const want = JSON.parse(expected);
      await new Promise((r) => setTimeout(r, Number(startAt) - Date.now())); // start together
      const got = await downloadDirOnce(source, local);
      // read it over for a while, as a trainer would, while the others finish their copies
      for (let pass = 0; pass < 50; pass++) {
        for (const [name, text] of Object.entries(want)) {
          if (readFileSync(join(got, name), 'utf8') !== text) throw new Error('wrong content in ' + name);
        }
      }`;
    const run = promisify(execFile);
    for (let round = 0; round < 3; round++) {
      rmSync(join(dir, 'cache'), { recursive: true, force: true });
      mkdirSync(local, { recursive: true });
      const startAt = Date.now() + 4000; // after every child's start-up
      await Promise.all(
        Array.from({ length: 6 }, () =>
          run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child, fileUri(source), local, JSON.stringify(files), String(startAt)], { cwd: process.cwd() }),
        ),
      );
      assert.deepEqual(readdirSync(join(dir, 'cache')), ['shards'], 'no side folder is left behind');
    }
  });
});
