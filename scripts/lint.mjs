#!/usr/bin/env node
// `npm run lint`: the import-cycle check (madge, a few seconds) and ESLint (type-aware, about a
// minute and a half). Both always run, so one report shows every problem; the exit status is
// non-zero when either fails.
// Usage: node scripts/lint.mjs [extra eslint arguments...]
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

// lint:cycles in package.json names the folders: the program itself (tests and scripts are
// leaves that nothing imports back).
const cycles = run('npm', ['run', '--silent', 'lint:cycles']);
const eslint = run(new URL('../node_modules/.bin/eslint', import.meta.url).pathname, ['.', ...process.argv.slice(2)]);
if (cycles !== 0) console.error('lint: import cycles found (above); break them, e.g. by moving the shared part down');
process.exit(cycles || eslint);
