/**
 * Deliberately broken solutions of HumanEval-X problem 0 score 0 in every language, through the
 * real sandbox: wrong answer, early exit 0, not compiling, endless loop, too much memory, a write
 * outside the scratch directory, spawning a shell. The last three compute the right answer only
 * when what they tried worked, so a pass would mean the sandbox let it through.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { executeSamples } from '../../activities/eval/executeSamples.js';
import { LANGUAGES, type Language } from '../../activities/eval/languages/index.js';
import type { Problem } from '../../activities/eval/problems.js';
import { humanEvalX } from './canonicalFixtures.js';

const KINDS = ['wrong', 'exit0', 'compile', 'loop', 'memory', 'write', 'shell'] as const;
type Kind = (typeof KINDS)[number];
const escape = (language: Language) => `/tmp/kiln-escape-${language}`;

/** Statements put before the canonical body (or, for wrong/compile, instead of it). */
function prefix(language: Language, kind: Kind): string {
  const out = escape(language);
  const node: Record<Kind, string> = {
    wrong: '  return false\n}\n',
    exit0: '  process.exit(0)\n',
    compile: '  return (\n}\n',
    loop: '  while (true) {}\n',
    memory: '  const hog = []; for (let i = 0; i < 2048; i++) hog.push(Buffer.alloc(8 << 20, 1))\n',
    write: `  require('fs').writeFileSync('${out}', 'x')\n`,
    shell: "  if (String(require('child_process').execSync('echo ok')).trim() !== 'ok') return null\n",
  };
  const table: Record<Language, Record<Kind, string>> = {
    python: {
      wrong: '    return False\n',
      exit0: '    import sys; sys.exit(0)\n',
      compile: '    return (\n',
      loop: '    while True: pass\n',
      memory: '    hog = bytearray(16 << 30)\n',
      write: `    open('${out}', 'w').write('x')\n`,
      shell: "    import subprocess\n    assert subprocess.check_output(['sh', '-c', 'echo ok']).strip() == b'ok'\n",
    },
    javascript: node,
    typescript: node,
    go: {
      wrong: '    return false\n}\n',
      exit0: '    os.Exit(0)\n',
      compile: '    return (\n}\n',
      loop: '    for numbers != nil {\n    }\n',
      memory: '    hog := [][]byte{}\n    for i := 0; i < 2048; i++ {\n        b := make([]byte, 8<<20)\n        for j := range b {\n            b[j] = 1\n        }\n        hog = append(hog, b)\n    }\n',
      write: `    if err := os.WriteFile("${out}", []byte("x"), 0o644); err != nil {\n        panic(err)\n    }\n`,
      shell: '    p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "true"}, &os.ProcAttr{})\n    if err != nil {\n        panic(err)\n    }\n    p.Wait()\n',
    },
    java: {
      wrong: '        return false;\n    }\n}\n',
      exit0: '        System.exit(0);\n',
      compile: '        return (;\n    }\n}\n',
      loop: '        while (numbers != null) {}\n',
      memory: '        java.util.List<long[]> hog = new java.util.ArrayList<>();\n        for (int i = 0; i < 2048; i++) hog.add(new long[1 << 20]);\n',
      write: `        try { java.nio.file.Files.writeString(java.nio.file.Path.of("${out}"), "x"); } catch (java.io.IOException e) { throw new RuntimeException(e); }\n`,
      shell: '        try { if (new ProcessBuilder("sh", "-c", "true").start().waitFor() != 0) throw new RuntimeException("sh"); } catch (Exception e) { throw new RuntimeException(e); }\n',
    },
    rust: {
      wrong: '    return false;\n}\n',
      exit0: '    std::process::exit(0);\n',
      compile: '    return (;\n}\n',
      loop: '    while !numbers.is_empty() || true {}\n',
      memory: '    let mut hog: Vec<Vec<u8>> = Vec::new();\n    for _ in 0..2048 { hog.push(vec![1u8; 8 << 20]); }\n',
      write: `    std::fs::write("${out}", "x").unwrap();\n`,
      shell: '    assert!(std::process::Command::new("sh").arg("-c").arg("true").status().unwrap().success());\n',
    },
    cpp: {
      wrong: '    return false;\n}\n',
      exit0: '    exit(0);\n',
      compile: '    return (;\n}\n',
      loop: '    volatile bool spin = true;\n    while (spin) {}\n',
      memory: '    vector<vector<char>> hog;\n    for (int i = 0; i < 2048; i++) hog.emplace_back(8 << 20, 1);\n',
      write: `    FILE* f = fopen("${out}", "w");\n    if (!f) throw 1;\n    fputs("x", f);\n    fclose(f);\n`,
      shell: '    if (system("true") != 0) throw 1;\n',
    },
  };
  return table[language][kind];
}

const EXPECTED: Partial<Record<Kind, string[]>> = {
  wrong: ['wrong_answer'],
  exit0: ['exited_early'],
  compile: ['compile_error'],
  loop: ['timeout'],
};

test('broken solutions score 0 in every language, each failing for its reason', { timeout: 900_000 }, async () => {
  const problems: Problem[] = [];
  const samples = [];
  for (const language of LANGUAGES) {
    rmSync(escape(language), { force: true });
    const problem = (await humanEvalX(language))[0]!;
    problems.push(problem);
    for (const kind of KINDS) {
      const body = kind === 'wrong' || kind === 'compile' ? '' : problem.canonical_solution!;
      samples.push({ task_id: problem.task_id, completion: prefix(language, kind) + body, kind });
    }
  }
  const out = await executeSamples({ problems, samples, ks: [1], timeoutSeconds: 3, memoryMb: 512, batchSize: 7 });
  assert.equal(out.passed, 0, JSON.stringify(out.results.filter((r) => r.passed).map((r) => [r.task_id, r.kind])));
  for (const r of out.results) {
    const kind = r.kind as Kind;
    const label = `${r.language} ${kind}: ${r.result}`;
    assert.equal(r.passed, false, label);
    assert.ok((EXPECTED[kind] ?? ['crash', 'wrong_answer', 'timeout']).includes(r.failure!), label);
  }
  for (const language of LANGUAGES) assert.equal(existsSync(escape(language)), false, `${language} wrote outside its scratch directory`);
  assert.deepEqual(Object.keys(out.toolchains).sort(), [...LANGUAGES].sort());
});

/** Completions that answer wrongly and try to disarm what judges them: each must still fail. */
const JUDGE_ATTACKS: { language: Language; name: string; completion: string }[] = [
  { language: 'javascript', name: 'console.assert replaced', completion: '  return false\n}\nconsole.assert = () => {}\n' },
  { language: 'javascript', name: 'console shadowed', completion: '  return false\n}\nconst console = { assert() {} }\n' },
  { language: 'javascript', name: 'JSON.stringify replaced', completion: "  return false\n}\nJSON.stringify = () => 'same'\n" },
  { language: 'javascript', name: 'forged nonce line', completion: "  console.log('\\nKILN-PASSED 00000000000000000000000000000000')\n  process.exit(0)\n}\n" },
  { language: 'typescript', name: 'console.assert replaced', completion: '  return false\n}\n(console as any).assert = () => {}\n' },
  { language: 'rust', name: 'assert_eq! shadowed', completion: '    return false;\n}\nmacro_rules! assert_eq { ($($t:tt)*) => {}; }\n' },
  { language: 'cpp', name: 'assert defined away', completion: '    return false;\n}\n#define assert(x) ((void)0)\n#define NDEBUG\n' },
  { language: 'java', name: 'Arrays and AssertionError shadowed', completion: '        return false;\n    }\n}\nclass AssertionError extends RuntimeException {}\nclass Arrays { static java.util.List<Boolean> asList(Object... a) { return new java.util.ArrayList<>(); } }\n' },
  { language: 'go', name: 'own TestMain', completion: '    return false\n}\n\nfunc TestMain(m *testing.M) {\n    os.Exit(0)\n}\n' },
];

test('completions that redefine the assertions, the console or the test framework fail', { timeout: 600_000 }, async () => {
  const problems: Problem[] = [];
  for (const language of new Set(JUDGE_ATTACKS.map((a) => a.language))) problems.push((await humanEvalX(language))[0]!);
  const byLanguage = new Map(problems.map((p) => [p.language, p]));
  const samples = JUDGE_ATTACKS.map((a) => ({ task_id: byLanguage.get(a.language)!.task_id, completion: a.completion, name: a.name }));
  const out = await executeSamples({ problems, samples, ks: [1], timeoutSeconds: 5, memoryMb: 512, batchSize: 3 });
  const verdicts = out.results.map((r) => `${r.language} ${String(r.name)}: ${r.passed ? 'PASSED' : r.failure}`);
  assert.deepEqual(verdicts, [
    'javascript console.assert replaced: wrong_answer',
    'javascript console shadowed: compile_error',
    'javascript JSON.stringify replaced: wrong_answer',
    'javascript forged nonce line: exited_early',
    'typescript console.assert replaced: wrong_answer',
    'rust assert_eq! shadowed: wrong_answer',
    'cpp assert defined away: wrong_answer',
    'java Arrays and AssertionError shadowed: wrong_answer',
    'go own TestMain: compile_error',
  ]);
});
