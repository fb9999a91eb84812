// A completion's language: the request's `language`, else its `filename`'s extension, in The
// Stack's `lang` names (what ingest partitions by), so acceptance per language lines up with the
// data and eval reports. Unknown extensions count under UNKNOWN_LANGUAGE.
import { UNKNOWN_LANGUAGE } from '../contracts/gateway.js';

const BY_EXTENSION: Record<string, string> = {
  py: 'Python', pyi: 'Python',
  js: 'JavaScript', mjs: 'JavaScript', cjs: 'JavaScript', jsx: 'JavaScript',
  ts: 'TypeScript', mts: 'TypeScript', cts: 'TypeScript', tsx: 'TypeScript',
  go: 'Go', java: 'Java', rs: 'Rust', rb: 'Ruby', php: 'PHP', cs: 'C#', swift: 'Swift', kt: 'Kotlin', scala: 'Scala',
  c: 'C', h: 'C', cc: 'C++', cpp: 'C++', cxx: 'C++', hpp: 'C++', hh: 'C++',
  sh: 'Shell', bash: 'Shell', lua: 'Lua', r: 'R', jl: 'Julia', sql: 'SQL',
  html: 'HTML', htm: 'HTML', css: 'CSS', md: 'Markdown', json: 'JSON', yaml: 'YAML', yml: 'YAML',
};

/** Canonical spellings of the names editors send (`python`, `typescriptreact`...). */
const BY_NAME: Record<string, string> = Object.fromEntries(
  [...new Set(Object.values(BY_EXTENSION))].map((l) => [l.toLowerCase(), l]),
);
Object.assign(BY_NAME, { javascriptreact: 'JavaScript', typescriptreact: 'TypeScript', golang: 'Go', cpp: 'C++', csharp: 'C#', shellscript: 'Shell' });

export function languageOf(language: string | undefined, filename: string | undefined): string {
  if (language) return BY_NAME[language.toLowerCase()] ?? language;
  const base = filename?.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  if (dot > 0) return BY_EXTENSION[base.slice(dot + 1).toLowerCase()] ?? UNKNOWN_LANGUAGE;
  return UNKNOWN_LANGUAGE;
}
