/**
 * kiln redact [--json]
 * Reads text on stdin and writes it with PII replaced (<EMAIL>, <IP_ADDRESS>, <KEY>, <PASSWORD>)
 * to stdout; with --json, prints the entities instead: [{"type","start","end"}], offsets in
 * UTF-16 code units (JavaScript string indexes) of the input decoded as UTF-8, BOM kept.
 */
import { parseArgs } from 'node:util';
import { findPii, redactPii } from '../../activities/clean/redact.js';

const USAGE = 'Usage: kiln redact [--json] < input > output\n';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(Buffer.concat(chunks));
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (err) {
    process.stderr.write(`kiln redact: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const text = await readStdin();
  if (values.json) process.stdout.write(JSON.stringify(findPii(text)) + '\n');
  else process.stdout.write(redactPii(text).text);
  return 0;
}
