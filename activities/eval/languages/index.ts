/**
 * The languages eval runs, and how a sample's program is assembled in each: the untrusted
 * `program` (prompt + completion), the trusted `test` and `header` the sandbox runner wraps in its
 * harness (python/kiln_native/sandbox_langs.py: compile step, run step, pass criterion, limits).
 * Assembly lives here, beside the Problem model it reads; execution lives beside the sandbox that
 * runs it. The README's "Languages" table documents both halves in one place.
 */

export const LANGUAGES = ['python', 'javascript', 'typescript', 'go', 'java', 'rust', 'cpp'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface LanguageSpec {
  language: Language;
  /** Stop sequences a generator cuts a completion at, when the problem names none (MultiPL-E's, per language). */
  stopTokens: string[];
  /** HumanEval-X task_id prefix (`Python/0`, `CPP/0`, ...); none for TypeScript. */
  humanEvalXPrefix?: string;
  /** Names MultiPL-E and others use for the language (`py`, `js`, `rs`, ...). */
  aliases: string[];
}

const C_LIKE_STOPS = ['\n}\n', '\n/*', '\n//', '\nint main', '\nfunc main', '\npublic static void main', '\n#'];

export const LANGUAGE_SPECS: Record<Language, LanguageSpec> = {
  python: { language: 'python', stopTokens: ['\ndef ', '\n#', '\nif ', '\nclass ', '\nprint(', '\nassert '], humanEvalXPrefix: 'Python', aliases: ['py', 'python3'] },
  javascript: { language: 'javascript', stopTokens: ['\nfunction ', '\n/*', '\n//', '\nconsole.log', '\nconst test'], humanEvalXPrefix: 'JavaScript', aliases: ['js', 'node'] },
  typescript: { language: 'typescript', stopTokens: ['\nfunction ', '\n/*', '\n//', '\nclass', '\nconst test'], aliases: ['ts'] },
  go: { language: 'go', stopTokens: ['\nfunc ', '\nstruct', '\n// ', '\n/*'], humanEvalXPrefix: 'Go', aliases: ['golang', 'go_test.go'] },
  java: { language: 'java', stopTokens: ['\n    }\n', '\n    public', '\n    /*', '\npublic class', '\nclass '], humanEvalXPrefix: 'Java', aliases: [] },
  rust: { language: 'rust', stopTokens: ['\n}\n', '\nfn ', '\n/*', '\n//', '\n#[cfg(test)]'], humanEvalXPrefix: 'Rust', aliases: ['rs'] },
  cpp: { language: 'cpp', stopTokens: [...C_LIKE_STOPS.filter((s) => s !== '\nfunc main' && s !== '\npublic static void main')], humanEvalXPrefix: 'CPP', aliases: ['c++', 'cxx'] },
};

/** The language a name stands for (`rs` -> rust), or undefined. */
export function languageNamed(name: string): Language | undefined {
  const lower = name.toLowerCase();
  return LANGUAGES.find((l) => l === lower || LANGUAGE_SPECS[l].aliases.includes(lower));
}

/** The language of a HumanEval-X task_id (`CPP/12` -> cpp), or undefined. */
export function languageOfHumanEvalX(taskId: string): Language | undefined {
  const prefix = taskId.split('/')[0];
  return LANGUAGES.find((l) => LANGUAGE_SPECS[l].humanEvalXPrefix === prefix);
}

/** What the sandbox receives for one sample (see the module comment). */
export interface AssembledProgram {
  language: Language;
  /** Python: the whole program. Others: prompt + completion, untrusted. */
  program: string;
  /** The problem's checks, trusted (absent for Python, whose checks are in `program`). */
  test?: string;
  /** Trusted context for the checks: Go's test_setup, Java's imports, C++'s declaration as a prototype. */
  header?: string;
}

/** The fields of a problem the assembly reads (see Problem in ../problems.ts). */
export interface AssemblyInput {
  prompt: string;
  test: string;
  entry_point: string;
  language: Language;
  format: 'human-eval' | 'humaneval-x' | 'multipl-e';
  declaration?: string;
  test_setup?: string;
}

function importLines(source: string): string {
  return source
    .split('\n')
    .filter((l) => /^\s*import\s+[\w.*]+\s*;/.test(l))
    .map((l) => `${l.trim()}\n`)
    .join('');
}

/**
 * The C++ declaration as prototypes for the checks' translation unit: every function body in it
 * (helpers such as CPP/38's encode_cyclic are defined in full, the function under test ends in
 * its opening `{`) becomes `;`, so the checks link against the program's definitions only.
 */
export function cppPrototypes(declaration: string): string {
  let out = '';
  let i = 0;
  while (i < declaration.length) {
    const open = declaration.indexOf('{', i);
    if (open < 0) return out + declaration.slice(i);
    const before = declaration.slice(i, open);
    // A function body follows a parameter list (maybe `const`); anything else (struct, initializer) is kept.
    if (!/\)\s*(const\s*)?$/.test(before)) {
      out += declaration.slice(i, open + 1);
      i = open + 1;
      continue;
    }
    let depth = 0;
    let end = open;
    for (; end < declaration.length; end++) {
      const c = declaration[end];
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) break;
    }
    out += `${before.trimEnd()};`;
    i = end + 1;
  }
  return `${out}\n`;
}

/** The program one sample runs as, per language and problem format. */
export function assemble(problem: AssemblyInput, completion: string): AssembledProgram {
  const { language, format } = problem;
  if (language === 'python') {
    // human-eval appends check(entry_point); HumanEval-X's and MultiPL-E's tests call it themselves.
    const tail = format === 'human-eval' ? `\ncheck(${problem.entry_point})` : '';
    return { language, program: `${problem.prompt}${completion}\n${problem.test}${tail}` };
  }
  if (format === 'multipl-e') return { language, program: `${problem.prompt}${completion}`, test: problem.test };
  switch (language) {
    case 'go':
      return { language, program: `${problem.prompt}${completion}`, test: problem.test, header: problem.test_setup ?? '' };
    case 'java':
      return { language, program: `${problem.prompt}${completion}`, test: problem.test, header: importLines(problem.prompt) };
    case 'rust':
      // HumanEval-X's Rust prompt is the doc comment only; the declaration holds the uses and the signature.
      return { language, program: `${problem.prompt}${problem.declaration ?? ''}${completion}`, test: problem.test };
    case 'cpp':
      return { language, program: `${problem.prompt}${completion}`, test: problem.test, header: cppPrototypes(problem.declaration ?? '') };
    default:
      return { language, program: `${problem.prompt}${completion}`, test: problem.test };
  }
}
