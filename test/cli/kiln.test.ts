// The `kiln` bin as users run it: a separate process, exit codes, stderr for errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../lib/workdirs.js';

function kiln(args: string[], input?: string) {
  return spawnSync(process.execPath, [join(repoRoot, 'bin/kiln.js'), ...args], { cwd: repoRoot, input, encoding: 'utf8' });
}

describe('kiln', () => {
  it('validate-config accepts the shipped configs', () => {
    const r = kiln(['validate-config', 'configs/tiny.json']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /configs\/tiny\.json: valid \(tiny: 2 node\(s\), 60 steps\)/);
  });

  it('validate-config names the offending field, on stderr, with a non-zero exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
    const cases: [unknown, RegExp][] = [
      [{ name: 'x', train: { steps: -1 } }, /`train\.steps` must be >= 1, got -1/],
      [{ name: 'x', dedup: { bands: 30, rows: 10, numPerm: 256 } }, /`dedup\.numPerm` must be at least dedup\.bands \* dedup\.rows \(30 \* 10 = 300\), got 256/],
      [{ name: 'x', model: { dModel: 30, nHead: 4 } }, /`model\.dModel` must be divisible by model\.nHead \(4\), got 30/],
      [{ name: 'Bad Name' }, /`name` must match pattern/],
      [{ name: 'x', artifacts: 'ftp://host/x' }, /`artifacts` must match pattern/],
      [{ name: 'x', eval: { k: [10], samplesPerProblem: 1 } }, /`eval\.k\[0\]` must be at most eval\.samplesPerProblem \(1\), got 10/],
    ];
    for (const [config, message] of cases) {
      const file = join(dir, 'c.json');
      writeFileSync(file, JSON.stringify(config));
      const r = kiln(['validate-config', file]);
      assert.equal(r.status, 1, JSON.stringify(config));
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    writeFileSync(join(dir, 'broken.json'), '{"name": ');
    const broken = kiln(['validate-config', join(dir, 'broken.json')]);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /cannot read .*broken\.json as JSON/);
  });

  it('refuses an unknown command with usage on stderr', () => {
    const r = kiln(['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command `frobnicate`/);
    assert.match(r.stderr, /Usage: kiln <command>/);
  });

  it('redact: stdin to stdout, and --json lists entities with UTF-16 offsets', () => {
    const text = '😀 mail bob@example.com from 93.184.216.34\n';
    const r = kiln(['redact'], text);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '😀 mail <EMAIL> from <IP_ADDRESS>\n');
    const j = kiln(['redact', '--json'], text);
    assert.equal(j.status, 0, j.stderr);
    const entities = JSON.parse(j.stdout) as { type: string; start: number; end: number }[];
    assert.deepEqual(entities.map((e) => e.type), ['EMAIL', 'IP_ADDRESS']);
    for (const e of entities) assert.ok(['bob@example.com', '93.184.216.34'].includes(text.slice(e.start, e.end)));
  });

  it('run refuses an invalid config before contacting any server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ name: 'x', trian: {} }));
    const r = kiln(['run', join(dir, 'c.json')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /`trian` is not a known field/);
  });
});
