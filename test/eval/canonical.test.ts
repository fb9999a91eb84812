/**
 * The canonical solutions of HumanEval-X (bundled in data/humaneval-x) pass through the real
 * sandbox in every language, except the documented list KNOWN_BROKEN (also in the README), each
 * with a test proving it fails for the reason given.
 *
 * Every problem in every language (all 164 x 7), CI included: the compiled languages cost about
 * 0.4-1.2 CPU-seconds a sample (timings in the README). KILN_EVAL_CANONICAL=sample runs every
 * CANONICAL_STRIDE-th problem of Go, Java, Rust and C++ for a quicker local check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executeSamples } from '../../activities/eval/executeSamples.js';
import { LANGUAGES, type Language } from '../../activities/eval/languages/index.js';
import type { Problem } from '../../activities/eval/problems.js';
import { humanEvalX } from './canonicalFixtures.js';

/** Problems whose canonical solution or test is itself wrong, by id, with the reason. */
export const KNOWN_BROKEN: Record<string, string> = {
  'JavaScript/112': 'the canonical returns `(z, false)`: the comma operator yields a boolean, not the [string, boolean] pair the test expects (it passes only where console.assert does not throw)',
  'JavaScript/155': 'evenOddCount(0): the canonical counts no digit of 0 ([0, 0]); the test expects [1, 0]',
  'Go/95': "flaky: the canonical stops at the second key of the map, so its answer depends on Go's random map iteration order",
};
/** TypeScript runs the JavaScript problems, so it shares their list. */
const knownBroken = (taskId: string) => KNOWN_BROKEN[taskId.replace(/^TypeScript\//, 'JavaScript/')];

const FULL = process.env.KILN_EVAL_CANONICAL !== 'sample';
const CANONICAL_STRIDE = 4;
const COMPILED: Language[] = ['go', 'java', 'rust', 'cpp'];

function canonicalSamples(problems: Problem[], language: Language): { task_id: string; completion: string }[] {
  const picked = FULL || !COMPILED.includes(language) ? problems : problems.filter((_, i) => i % CANONICAL_STRIDE === 0);
  return picked.map((p) => ({ task_id: p.task_id, completion: p.canonical_solution! }));
}

for (const language of LANGUAGES) {
  test(`canonical solutions pass in ${language}, less the documented list`, { timeout: 1_200_000 }, async () => {
    const problems = await humanEvalX(language);
    assert.equal(problems.length, 164);
    const samples = canonicalSamples(problems, language);
    const out = await executeSamples({ problems, samples, ks: [1], timeoutSeconds: 15, memoryMb: 1024, batchSize: 8 });
    const failed = Object.fromEntries(out.results.filter((r) => !r.passed).map((r) => [r.task_id, r.result]));
    const expected = Object.fromEntries(samples.filter((s) => knownBroken(s.task_id)).map((s) => [s.task_id, failed[s.task_id] ?? 'passed']));
    // The documented ones fail (Go/95 only sometimes: its proof is below); nothing else does.
    const unexpected = Object.fromEntries(Object.entries(failed).filter(([id]) => !knownBroken(id)));
    assert.deepEqual(unexpected, {}, `unexpected failures in ${language}`);
    for (const [id, result] of Object.entries(expected)) if (!id.startsWith('Go/')) assert.notEqual(result, 'passed', `${id} is listed as broken but passed`);
    assert.ok(out.toolchains[language], `no toolchain version recorded for ${language}`);
  });
}

test('each documented problem fails for the documented reason', { timeout: 600_000 }, async () => {
  const js = await humanEvalX('javascript');
  const go = await humanEvalX('go');
  const get = (ps: Problem[], id: string) => ps.find((p) => p.task_id === id)!;
  const p112 = get(js, 'JavaScript/112');
  const p155 = get(js, 'JavaScript/155');
  const p95 = get(go, 'Go/95');
  const flakyTest = `func TestOrderDependent(t *testing.T) {
    seen := map[bool]bool{}
    for i := 0; i < 300; i++ {
        seen[CheckDictCase(map[interface{}]interface{}{"p": "pineapple", "A": "banana", "B": "banana"})] = true
    }
    assert.New(t).Equal(2, len(seen), "the same map gave one answer every time")
}
`;
  const problems: Problem[] = [
    p112,
    { ...p112, task_id: 'fixed-112', canonical_solution: p112.canonical_solution!.replace('return (z, false)', 'return [t, false]').replace('return (z, true)', 'return [t, true]') },
    p155,
    { ...p155, task_id: 'without-zero-155', test: p155.test.replace(/\s*console\.assert\(JSON\.stringify\(evenOddCount\(0\)\)[^\n]*/, '') },
    { ...p95, task_id: 'order-95', test: flakyTest },
  ];
  const samples = problems.map((p) => ({ task_id: p.task_id, completion: p.canonical_solution! }));
  const out = await executeSamples({ problems, samples, ks: [1], timeoutSeconds: 15, memoryMb: 1024 });
  const verdict = Object.fromEntries(out.results.map((r) => [r.task_id, `${r.passed}/${r.failure}`]));
  assert.deepEqual(verdict, {
    'JavaScript/112': 'false/wrong_answer',
    'fixed-112': 'true/null', // returning the pair makes it pass: the comma expression is the fault
    'JavaScript/155': 'false/wrong_answer',
    'without-zero-155': 'true/null', // every other check passes: evenOddCount(0) is the fault
    'order-95': 'true/null', // the same input gets both answers: the canonical depends on map order
  });
});
