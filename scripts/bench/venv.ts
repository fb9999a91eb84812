/**
 * The benchmark's own Python environment: .kiln/bench-venv with scripts/bench/requirements.txt
 * (datasketch, datatrove and what they need), made on first use and remade when the
 * requirements change. Only the benchmark and the dedup quality check use it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../lib/workdirs.js';

export function benchPython(): string {
  const venv = join(repoRoot, '.kiln', 'bench-venv');
  const requirements = join(repoRoot, 'scripts', 'bench', 'requirements.txt');
  const stamp = join(venv, '.requirements.sha256');
  const want = createHash('sha256').update(readFileSync(requirements)).digest('hex');
  const python = join(venv, 'bin', 'python');
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return python;
  process.stderr.write(`making the benchmark's Python environment in ${venv} (first use)...\n`);
  const base = process.env.KILN_BENCH_PYTHON ?? 'python3';
  execFileSync(base, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(python, ['-m', 'pip', 'install', '-q', '-r', requirements], { stdio: 'inherit' });
  writeFileSync(stamp, want);
  return python;
}

export const referenceScript = join(repoRoot, 'scripts', 'bench', 'minhash_reference.py');
