/**
 * Syntax check: parse with tree-sitter and report whether the tree holds ERROR or MISSING nodes.
 * The runtime is `web-tree-sitter` (WebAssembly, no native build); the grammars are the prebuilt
 * .wasm files of `@vscode/tree-sitter-wasm` (built with tree-sitter 0.25, ABI 15, which this
 * runtime loads; `tree-sitter-wasms` ships older builds that it refuses, and the per-language npm
 * packages pull in the native `tree-sitter` through their peer dependency and install scripts).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Language, Parser } from 'web-tree-sitter';
import { ErrorType, fatal } from '../../contracts/errors.js';

/** The Stack language name -> grammar file; `.tsx` files of TypeScript take the TSX grammar. */
export const SYNTAX_GRAMMARS: Readonly<Record<string, string>> = {
  Python: 'python',
  JavaScript: 'javascript',
  JSX: 'javascript',
  TypeScript: 'typescript',
  Go: 'go',
  Java: 'java',
  Rust: 'rust',
  Ruby: 'ruby',
  'C#': 'c-sharp',
  'C++': 'cpp',
  PHP: 'php',
  Shell: 'bash',
  CSS: 'css',
};

export type SyntaxVerdict = 'ok' | 'failed' | 'skipped';

export interface SyntaxLanguageCounts {
  checked: number;
  failed: number;
  /** Files above the size limit, not parsed (kept). */
  skipped_too_large: number;
}

function grammarDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@vscode/tree-sitter-wasm/package.json')), 'wasm');
}

let runtime: Promise<void> | undefined;
const languages = new Map<string, Promise<Language>>();

async function loadLanguage(grammar: string): Promise<Language> {
  runtime ??= Parser.init();
  await runtime;
  let lang = languages.get(grammar);
  if (!lang) {
    lang = Language.load(join(grammarDir(), `tree-sitter-${grammar}.wasm`));
    languages.set(grammar, lang);
  }
  return lang;
}

const TYPE_STAR_EXPORT = /\bexport(\s+)type(\s+)\*/g;

/**
 * `export type * from "./x"` (TypeScript 5.0) is valid, but the TypeScript grammar shipped here
 * (0.23) predates it and reports an error. It parses as `export * from` with `type` blanked
 * (same length, so positions stay).
 */
export function withoutTypeOnlyStarExports(content: string): string {
  if (!content.includes('type')) return content;
  return content.replace(TYPE_STAR_EXPORT, (_m, a: string, b: string) => `export${a}    ${b}*`);
}

/** Parses files of the configured languages; one parser per grammar, reused. */
export class SyntaxChecker {
  readonly counts: Record<string, SyntaxLanguageCounts> = {};

  private constructor(
    private readonly parsers: Map<string, Parser>,
    private readonly maxBytes: number,
  ) {}

  /** Loads the grammars of `langs` (The Stack names); an unknown name fails with the field's name. */
  static async create(langs: readonly string[], maxBytes: number): Promise<SyntaxChecker> {
    const parsers = new Map<string, Parser>();
    const grammars = new Set<string>();
    for (const lang of langs) {
      const grammar = SYNTAX_GRAMMARS[lang];
      if (!grammar) {
        throw fatal(ErrorType.InvalidConfig, `clean.syntaxLanguages: no tree-sitter grammar for ${JSON.stringify(lang)}; known: ${Object.keys(SYNTAX_GRAMMARS).join(', ')}.`);
      }
      grammars.add(grammar);
      if (lang === 'TypeScript') grammars.add('tsx');
    }
    for (const grammar of grammars) {
      const language = await loadLanguage(grammar); // initialises the runtime first
      const parser = new Parser();
      parser.setLanguage(language);
      parsers.set(grammar, parser);
    }
    const checker = new SyntaxChecker(parsers, maxBytes);
    for (const lang of langs) checker.counts[lang] = { checked: 0, failed: 0, skipped_too_large: 0 };
    return checker;
  }

  /** The grammar for a file, or undefined when its language is not checked. */
  grammarFor(lang: string, ext: string): string | undefined {
    if (!(lang in this.counts)) return undefined;
    if (lang === 'TypeScript' && ext === 'tsx') return 'tsx';
    return SYNTAX_GRAMMARS[lang];
  }

  /** 'failed' when the tree has an ERROR or MISSING node; 'skipped' above the size limit or for other languages. */
  check(content: string, lang: string, ext: string, bytes: number): SyntaxVerdict {
    const grammar = this.grammarFor(lang, ext);
    if (grammar === undefined) return 'skipped';
    const counts = this.counts[lang]!;
    if (bytes > this.maxBytes) {
      counts.skipped_too_large++;
      return 'skipped';
    }
    const tree = this.parsers.get(grammar)!.parse(grammar === 'typescript' || grammar === 'tsx' ? withoutTypeOnlyStarExports(content) : content);
    counts.checked++;
    if (tree === null) return 'skipped';
    try {
      if (tree.rootNode.hasError) {
        counts.failed++;
        return 'failed';
      }
      return 'ok';
    } finally {
      tree.delete(); // WebAssembly memory is not garbage-collected
    }
  }

  /** Frees the parsers' WebAssembly memory; the checker is unusable afterwards. */
  dispose(): void {
    for (const parser of this.parsers.values()) parser.delete();
    this.parsers.clear();
  }
}
