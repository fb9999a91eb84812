#!/usr/bin/env node
// Runs every TypeScript test file with node's test runner (tsx as the loader).
// Node 20's runner does not glob .ts files itself, so the list is built here.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

// Chaos suites of minutes each stay out of CI (test/e2e/*Chaos*.test.ts: minute-long storage
// outages, ~8 min; the network partition, ~4 min with a reference run): KILN_CHAOS=1 lets them in
// (`npm run test:chaos`). The fencing and retry logic they prove has unit tests that do run in CI.
const isChaos = (f) => /^test\/(e2e\/[^/]*Chaos[^/]*|workflows\/partitionChaos)\.test\.ts$/.test(f);
const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => process.env.KILN_CHAOS === '1' || !isChaos(f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}${process.env.KILN_CHAOS === '1' ? '' : ' (chaos suites need KILN_CHAOS=1)'}`);
  process.exit(1);
}
// Heavy suites (a real Temporal server, MinIO, training) must not run concurrently on 2 cores.
// --test-force-exit: a file whose tests are over exits even if a failed test left workers polling
// a server already gone (it would otherwise hold the whole run until CI's limit).
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
