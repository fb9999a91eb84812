// Workflow code must stay deterministic: no Node built-ins, no I/O modules, no clocks or
// randomness of its own (the SDK's sandbox replaces Date and Math.random, but reaching for them
// in workflow code is a smell), and activities imported as types only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../lib/workdirs.js';

// What workflow code may import (values): the workflow SDK and pure shared modules. contracts/ is
// bundled into workflows too, so it is held to the same rule.
const ALLOWED = [
  /^@temporalio\/(workflow|common)$/,
  /^\.\/[\w.]+\.js$/,
  /^\.\.\/contracts\/[\w.]+\.js$/,
  /^\.\.\/lib\/(config\/validate|config\/types|config\/defaults|manifest)\.js$/,
];
const FILES = ['workflows', 'contracts'].flatMap((folder) =>
  readdirSync(join(repoRoot, folder))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${folder}/${f}`),
);

describe('workflows/ purity', () => {
  for (const file of FILES) {
    it(`${file} imports only deterministic code`, () => {
      const src = readFileSync(join(repoRoot, file), 'utf8');
      for (const m of src.matchAll(/^import\s+(type\s+)?[^'"]*from\s+'([^']+)'/gm)) {
        const [, isType, spec] = m;
        if (isType) continue; // erased at compile time
        assert.ok(ALLOWED.some((re) => re.test(spec!)), `${file} imports ${spec}`);
      }
      assert.doesNotMatch(src, /\b(Date\.now|new Date\(|Math\.random|setTimeout|setInterval|process\.)/, `${file} uses a clock, randomness or process state`);
    });
  }
});
