// A tiny model for the GPU-side activities' tests (export, generate, deploy), built in seconds on
// CPU by the Python tests' own helpers: fixtures_native.tiny_model (a random 2-layer Llama in
// Hugging Face format with a tokenizer trained by the tokenizer tool) and conftest.tiny_config
// (the trainer config of the same shape). Everything lands in a temporary folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPLETE_MARKER } from '../../activities/train/checkpoints.js';
import { describeBytes, writeManifest, type StageResult } from '../../lib/manifest.js';
import { pythonEnv, pythonDir, pythonExecutable } from '../../lib/python.js';
import { fileUri, store } from '../../lib/storage/index.js';
import { listLocalFiles } from '../../lib/syncDir.js';

// The checkpoint is the trainer's layout (activities/train/checkpoints.ts, kiln_trainer.checkpoint):
// weights under Hugging Face names, the resolved trainer config, the train state, the marker.
// tiny_model and tiny_config share their shape (2 layers, 4 heads, 2 KV heads, d 32, ffn 64).
const BUILD = `
import json, shutil, sys
from pathlib import Path
sys.path.insert(0, 'tests')
from conftest import tiny_config
from fixtures_native import tiny_model
root = Path(sys.argv[1])
model = tiny_model(root, vocab_size=int(sys.argv[2]))
ckpt = root / 'run' / 'checkpoints' / 'step_00000005'
ckpt.mkdir(parents=True)
shutil.copyfile(model / 'model.safetensors', ckpt / 'model.safetensors')
(ckpt / 'config.json').write_text(json.dumps(dict(tiny_config(), vocabSize=int(sys.argv[2]))))
(ckpt / 'train_state.json').write_text(json.dumps({'step': 5}))
`;

export interface TinyModel {
  /** Root of everything built (a temporary folder). */
  root: string;
  /** The exported Hugging Face model folder (config.json, model.safetensors, tokenizer files). */
  modelDir: string;
  /** The tokenizer.json the model was built with. */
  tokenizerJson: string;
  /** A trainer checkpoint folder (step_00000005) of a model of the same shape, without its marker. */
  checkpointDir: string;
}

export function buildTinyModel(vocabSize = 400): TinyModel {
  const root = mkdtempSync(join(tmpdir(), 'kiln-tiny-model-'));
  execFileSync(pythonExecutable(), ['-c', BUILD, root, String(vocabSize)], { cwd: pythonDir(), env: pythonEnv({ OMP_NUM_THREADS: '1' }), stdio: ['ignore', 'ignore', 'inherit'] });
  return {
    root,
    modelDir: join(root, 'model'),
    tokenizerJson: join(root, 'tokenizer', 'tokenizer.json'),
    checkpointDir: join(root, 'run', 'checkpoints', 'step_00000005'),
  };
}

/** Commits a checkpoint folder the way uploadCheckpoint does: the marker last. */
export function markComplete(checkpointDir: string): void {
  writeFileSync(join(checkpointDir, COMPLETE_MARKER), JSON.stringify({ files: listLocalFiles(checkpointDir).length }) + '\n');
}

/** A committed stage folder around local files, as the stage that made them would return it. */
export async function committedStage(stage: string, dir: string, fingerprint: string, stats: Record<string, unknown> = {}): Promise<StageResult> {
  const files = listLocalFiles(dir).filter((p) => !p.endsWith('_MANIFEST.json'));
  const outputs = files.map((p) => describeBytes(fileUri(p), readFileSync(p)));
  const fp = fingerprint.padEnd(64, '0');
  const manifestUri = await writeManifest(store, fileUri(dir), { stage, fingerprint: fp, codeVersion: 'test', params: {}, inputs: [], outputs, stats });
  return { stage, fingerprint: fp, dir: fileUri(dir), manifestUri, outputs: outputs.map((o) => o.uri), stats, reused: false };
}
