/**
 * Where the native Python side lives: the interpreter (KILN_PYTHON, else the repo's .venv) and
 * the package directory (python/, on PYTHONPATH so `python -m kiln_native.<tool>` works).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file lives in <repo>/lib/. */
export function repoRoot(): string {
  return dirname(dirname(fileURLToPath(import.meta.url)));
}

/** <repo>/python: the directory holding the native packages (kiln_trainer, kiln_native). */
export function pythonDir(): string {
  return join(repoRoot(), 'python');
}

/** KILN_PYTHON when set, else <repo>/.venv/bin/python. */
export function pythonExecutable(): string {
  return process.env.KILN_PYTHON ?? join(repoRoot(), '.venv', 'bin', 'python');
}

/**
 * The environment for a Python tool: this process's environment, PYTHONPATH=<repo>/python,
 * unbuffered output, offline Hugging Face libraries (models are local folders, never fetched).
 */
export function pythonEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return {
    ...env,
    PYTHONPATH: pythonDir(),
    PYTHONUNBUFFERED: '1',
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    TOKENIZERS_PARALLELISM: 'false',
    ...extra,
  };
}
