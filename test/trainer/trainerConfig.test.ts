// The contract between the pipeline config (configs/schema.json, checked in TypeScript) and the
// trainer's own config (python/kiln_trainer/config.py): what planTraining hands the trainer must
// load there unchanged, and both sides must default alike.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planTraining } from '../../activities/planTraining.js';
import { validateConfig } from '../../lib/config/validate.js';
import type { StageResult } from '../../lib/manifest.js';
import { pythonEnv, pythonExecutable, pythonDir } from '../../lib/python.js';
import { repoRoot } from '../../lib/workdirs.js';

/** Runs `code` in the trainer's Python with `args`; returns its stdout parsed as JSON. */
function python(code: string, ...args: string[]): unknown {
  const r = spawnSync(pythonExecutable(), ['-c', code, ...args], { cwd: pythonDir(), env: pythonEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const stage = (fingerprint: string, stats: Record<string, unknown> = {}): StageResult => ({
  stage: 'x', fingerprint, dir: 'file:///nowhere', manifestUri: 'file:///nowhere/_MANIFEST.json', outputs: [], stats, reused: false,
});

const configs = readdirSync(join(repoRoot, 'configs')).filter((f) => f.endsWith('.json') && f !== 'schema.json');

describe('trainer config contract', () => {
  it(`every config in configs/ (${configs.join(', ')}) plans a trainer config that the trainer loads as planned`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-trainer-config-'));
    try {
      for (const name of configs) {
        const config = validateConfig(JSON.parse(readFileSync(join(repoRoot, 'configs', name), 'utf8')));
        const plan = await planTraining({ config, shards: stage('s'.repeat(64)), tokenizer: stage('t'.repeat(64), { vocabSize: config.tokenizer.vocabSize }) });
        const path = join(dir, `${name}.trainer.json`);
        writeFileSync(path, JSON.stringify(plan.trainer));
        const loaded = python('import json, sys\nfrom kiln_trainer.config import load_config\nprint(json.dumps(load_config(sys.argv[1]).to_json()))', path) as { vocabSize: number; seqLen: number; train: Record<string, unknown>; model: Record<string, unknown> };
        assert.equal(loaded.vocabSize, config.tokenizer.vocabSize, name);
        assert.equal(loaded.seqLen, config.shard.seqLen, name);
        for (const [key, value] of Object.entries(plan.trainer.train)) assert.deepEqual(loaded.train[key], value, `${name}: train.${key}`);
        for (const [key, value] of Object.entries(plan.trainer.model)) {
          if (value !== null) assert.deepEqual(loaded.model[key], value, `${name}: model.${key}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("train.tracking reaches the trainer, defaults filled, and stays out of the run's identity", async () => {
    const tiny = JSON.parse(readFileSync(join(repoRoot, 'configs', 'tiny.json'), 'utf8'));
    const plan = (config: unknown) => {
      const c = validateConfig(config);
      return planTraining({ config: c, shards: stage('s'.repeat(64)), tokenizer: stage('t'.repeat(64), { vocabSize: c.tokenizer.vocabSize }) });
    };
    const plain = await plan(tiny);
    const tracked = await plan({ ...tiny, train: { ...tiny.train, tracking: { wandb: { project: 'kiln' } } } });
    assert.deepEqual(tracked.trainer.train.tracking, { wandb: { project: 'kiln' }, tensorboard: false });
    assert.equal(tracked.runKey, plain.runKey, 'turning tracking on still resumes the run');
    assert.equal(tracked.checkpointsUri, plain.checkpointsUri);
    const dir = mkdtempSync(join(tmpdir(), 'kiln-trainer-config-'));
    try {
      writeFileSync(join(dir, 'trainer.json'), JSON.stringify(tracked.trainer));
      const loaded = python('import dataclasses, json, sys\nfrom kiln_trainer.config import load_config\nprint(json.dumps(dataclasses.asdict(load_config(sys.argv[1]).tracking)))', join(dir, 'trainer.json'));
      assert.deepEqual(loaded, { wandb: { project: 'kiln', entity: null, mode: null }, tensorboard: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the trainer defaults every model and train key as configs/schema.json does', () => {
    const schema = JSON.parse(readFileSync(join(repoRoot, 'configs', 'schema.json'), 'utf8'));
    const trainerDefaults = python(`
import dataclasses, json
from kiln_trainer.config import ModelSection, TrainConfig
def camel(n):
    head, *rest = n.split('_')
    return head + ''.join(p.title() for p in rest)
print(json.dumps({s: {camel(f.name): f.default for f in dataclasses.fields(c) if f.default is not dataclasses.MISSING}
                  for s, c in (('model', ModelSection), ('train', TrainConfig))}))`) as Record<string, Record<string, unknown>>;
    for (const section of ['model', 'train'] as const) {
      const properties = schema.properties[section].properties as Record<string, { default?: unknown }>;
      const compared: string[] = [];
      for (const [key, spec] of Object.entries(properties)) {
        if (!(key in trainerDefaults[section]!) || spec.default === undefined) continue;
        assert.deepEqual(trainerDefaults[section]![key], spec.default, `${section}.${key}: trainer default vs schema default`);
        compared.push(key);
      }
      assert.ok(compared.length >= 5, `${section}: compared ${compared.join(', ')}`);
    }
  });
});
