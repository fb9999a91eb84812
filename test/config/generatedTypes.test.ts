// lib/config/types.ts is generated from configs/schema.json: this fails while the checked-in file
// is out of date (a schema edit without `npm run gen:config`).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { GENERATE_COMMAND, generateConfigTypes, TYPES_PATH } from '../../scripts/gen-config-types.js';

describe('generated config types', () => {
  it(`${TYPES_PATH} is what configs/schema.json generates`, async () => {
    const expected = await generateConfigTypes();
    const actual = await readFile(new URL(`../../${TYPES_PATH}`, import.meta.url), 'utf8');
    if (actual !== expected) {
      const a = actual.split('\n');
      const e = expected.split('\n');
      const line = e.findIndex((l, i) => l !== a[i]);
      assert.fail(`${TYPES_PATH} is out of date with configs/schema.json (first difference at line ${line + 1}: ${JSON.stringify(a[line])}, expected ${JSON.stringify(e[line])}). Run \`${GENERATE_COMMAND}\`.`);
    }
  });

  it('every property with a default is required, the others optional, in the generated type', async () => {
    const text = await generateConfigTypes();
    assert.match(text, /^ {2}bands\?: number;$/m, 'dedup.bands has no default: optional');
    assert.match(text, /^ {2}maxDocumentBytes: number \| null;$/m, 'ingest.maxDocumentBytes has a default: required');
    assert.match(text, /^ {2}clean: CleanConfig;$/m);
    assert.doesNotMatch(text, /\$schema/, 'validateConfig deletes $schema');
    for (const name of ['PipelineConfig', 'IngestConfig', 'CleanConfig', 'DedupConfig', 'TokenizerConfig', 'ShardConfig', 'ModelConfig', 'TrainConfig', 'EvalConfig', 'DeployConfig']) {
      assert.match(text, new RegExp(`^export interface ${name} \\{$`, 'm'), name);
    }
  });
});
