// `kiln models` as a person runs it: a readable table, --json, alias changes, and exit codes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { getAliases, registerVersion, updateVersion } from '../../lib/registry/registry.js';
import { fileUri } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';

const run = promisify(execFile);

async function kiln(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'bin/kiln.js'), ...args], { env: { ...process.env, KILN_REGISTRY_ROOT: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('kiln models', () => {
  let dir: string;
  let root: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-models-'));
    root = fileUri(join(dir, 'artifacts'));
    for (const [v, py] of [['v1', 0.2], ['v2', 0.31]] as const) {
      await registerVersion(root, { name: 'coder', version: v, modelUri: `${root}/m/${v}`, lineage: { pipelineRunId: `run-${v}`, dataManifests: [] }, eval: { languages: { python: { passAtK: { 'pass@1': py } }, go: { passAtK: { 'pass@1': 0.1 } } } } });
    }
    await updateVersion(root, 'coder', 'v1', (r) => void r.deployments.push({ at: 't', endpoint: 'http://127.0.0.1:8001' }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sets an alias, lists models and shows versions as tables and as JSON', async () => {
    const alias = await kiln('models', 'alias', 'coder', 'production', 'v1', '--root', root, '--reason', 'first deploy');
    assert.equal(alias.code, 0, alias.stderr);
    assert.equal(alias.stdout, 'coder: production -> v1 (revision 1)\n');
    assert.equal((await getAliases(root, 'coder')).history[0]!.reason, 'first deploy');

    const list = await kiln('models', 'list', '--root', root);
    assert.equal(list.code, 0, list.stderr);
    const [header, , row] = list.stdout.split('\n');
    assert.match(header!, /^model\s+versions\s+production\s+canary\s+latest\s+registered \(UTC\)$/);
    assert.match(row!, /^coder\s+2\s+v1\s+-\s+v2\s+\d{4}-/);

    const show = await kiln('models', 'show', 'coder', '--root', root);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^v1\s+production\s+\S+\s+run-v1\s+python 20\.0, go 10\.0\s+http:\/\/127\.0\.0\.1:8001\s+-$/m);
    assert.match(show.stdout, /^v2\s+-\s+\S+\s+run-v2\s+python 31\.0, go 10\.0\s+-\s+-$/m);

    const json = JSON.parse((await kiln('models', 'show', 'coder', 'v2', '--root', root, '--json')).stdout) as { version: string; lineage: { pipelineRunId: string } };
    assert.equal(json.version, 'v2');
    assert.equal(json.lineage.pipelineRunId, 'run-v2');
  });

  it('exits 1 on a missing version and 2 on bad usage, with a message', async () => {
    const missing = await kiln('models', 'alias', 'coder', 'canary', 'v9', '--root', root);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Model coder has no version v9 in the registry/);
    const usage = await kiln('models', 'frobnicate', '--root', root);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Unknown subcommand `frobnicate`/);
    const help = await kiln('rollout', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /kiln rollout start --model <name> --candidate <version>/);
  });
});
