/**
 * `name = value` assignments in code and config: `name = "v"`, `name: "v"`, `"name": "v"`,
 * `name := "v"`, `name => "v"`, `config["name"] = "v"`, and unquoted `NAME=v` / `name: v` at
 * the end of a line (.env, YAML, INI, properties). The regexes start at a keyword, which keeps
 * them fast (no scan for names in general); the whole name is then read backwards from it.
 */

export interface Assignment {
  /** The whole name holding the keyword (`DB_PASSWORD`, `x-api-key`). */
  name: string;
  valueStart: number;
  value: string;
  quoted: boolean;
}

/** Words that run into key/secret/token/password in names like `apikey`, `authtoken`. */
const JOINED_PREFIX =
  /(?:api|access|auth|secret|private|client|session|master|app|bearer|refresh|db|user|admin|root|signing|encryption|account|service|bot|webhook|consumer|oauth)$/i;

/**
 * True when the keyword starts a part of the name (`API_KEY`, `apiKey`, `x-api-key`, `apikey`),
 * not the middle of a word (`rekey`, `monkey`, `hotkey`).
 */
function startsNamePart(before: string, first: string): boolean {
  const prev = before[before.length - 1];
  if (prev === undefined || !/[A-Za-z0-9]/.test(prev)) return true;
  if (/[a-z0-9]/.test(prev) && /[A-Z]/.test(first)) return true; // camelCase
  if (/[A-Z]/.test(prev) && /[A-Z]/.test(first)) return true; // SHOUTING (APIKEY)
  return JOINED_PREFIX.test(before);
}

/**
 * True when the keyword also ends its name part (`api_key`, `apiKeyValue`, `API_KEYS`), not
 * when it runs on into another word (`keyboard`, `author`, `tokenizer`); a plural 's' is fine.
 */
function endsNamePart(rest: string): boolean {
  const next = rest[0];
  if (next === undefined || !/[A-Za-z]/.test(next)) return true;
  if (/[A-Z]/.test(next)) return true; // camelCase (apiKeyValue) or SHOUTING (APIKEY_ID): can't tell
  return /^s(?![a-z])/.test(rest);
}

/** Between the keyword and the value: the rest of the name, a closing quote/bracket, the operator. */
const ASSIGN = `[\\w-]{0,30}["']?\\]?[ \\t]*(?::=|=>|==|[:=])[ \\t]*`;
/** C/C++ macros: `#define API_KEY "value"` (the lookbehind checks the name follows #define). */
const DEFINE = `\\w{0,30}(?<=#[ \\t]*define[ \\t]+\\w{1,90})[ \\t]+`;

/**
 * A global, case-insensitive regex for `keyword ... = <value>`: a quoted value (group `value`,
 * quote `q`) or, with `unquoted`, a bare value that ends the line (or is followed by `,`, `;`,
 * `#`, `}`), made of token characters.
 */
export function assignmentRegex(keywords: string, quotedValue: string, unquotedValue?: string): RegExp {
  const quoted = `(?<q>["'\`])(?<value>${quotedValue})\\k<q>`;
  const bare = unquotedValue ? `|(?<bare>${unquotedValue})(?=[ \\t]*(?:[\\r\\n,;#}]|$))` : '';
  return new RegExp(`(?:${keywords})(?<rest>(?:${ASSIGN}|${DEFINE})(?:${quoted}${bare}))`, 'gi');
}

export function findAssignments(text: string, regex: RegExp): Assignment[] {
  const out: Assignment[] = [];
  for (const m of text.matchAll(regex)) {
    const at = m.index!;
    let nameStart = at;
    while (nameStart > 0 && /[\w.$-]/.test(text[nameStart - 1]!) && at - nameStart < 60) nameStart--;
    if (!startsNamePart(text.slice(nameStart, at), text[at]!)) continue;
    const rest = m.groups!.rest!;
    if (!endsNamePart(rest)) continue;
    const name = /^[\w.$-]*/.exec(text.slice(nameStart, at + m[0].length))![0];
    const quoted = m.groups!.value !== undefined;
    const value = quoted ? m.groups!.value! : m.groups!.bare!;
    const valueEnd = at + m[0].length - (quoted ? 1 : 0);
    out.push({ name, valueStart: valueEnd - value.length, value, quoted });
  }
  return out;
}
