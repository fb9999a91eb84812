/**
 * kiln redact [--json] [--jsonl]
 * Reads text on stdin and writes it with PII replaced (<EMAIL>, <IP_ADDRESS>, <KEY>, <PASSWORD>)
 * to stdout; with --json, prints the entities instead: [{"type","start","end"}], offsets in
 * UTF-16 code units (JavaScript string indexes) of the input decoded as UTF-8, BOM kept.
 * With --jsonl, stdin holds one document per line, {"id": any, "text": string}, and stdout one
 * result per line in the same order: {"id","entities"} with --json, else {"id","text","counts"}.
 * Both call findPii / redactPii, the functions the clean stage runs.
 */
import { createInterface } from 'node:readline';
import { findPii, redactPii } from '../../activities/clean/redact.js';
import { parseCli } from '../stageCommand.js';

const USAGE = 'Usage: kiln redact [--json] [--jsonl] < input > output\n';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(Buffer.concat(chunks));
}

/** One JSONL document; a malformed line is the caller's error, named by its line number. */
function parseDocument(line: string, lineNo: number): { id: unknown; text: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (err) {
    throw new Error(`stdin line ${lineNo} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const text = (doc as { text?: unknown } | null)?.text;
  if (typeof text !== 'string') throw new Error(`stdin line ${lineNo}: expected an object with a string "text" field`);
  return { id: (doc as { id?: unknown }).id ?? null, text };
}

async function redactLines(json: boolean): Promise<void> {
  let lineNo = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    const { id, text } = parseDocument(line, lineNo);
    const result = json ? { id, entities: findPii(text) } : { id, ...redactPii(text) };
    if (!process.stdout.write(JSON.stringify(result) + '\n')) await new Promise((r) => process.stdout.once('drain', r));
  }
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseCli(argv, { jsonl: { type: 'boolean' } }, USAGE);
  } catch (err) {
    process.stderr.write(`kiln redact: ${(err as Error).message}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.jsonl) {
    try {
      await redactLines(values.json === true);
    } catch (err) {
      process.stderr.write(`kiln redact: ${(err as Error).message}\n`);
      return 1;
    }
    return 0;
  }
  const text = await readStdin();
  if (values.json) process.stdout.write(JSON.stringify(findPii(text)) + '\n');
  else process.stdout.write(redactPii(text).text);
  return 0;
}
