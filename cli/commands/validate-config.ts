import { readFileSync } from 'node:fs';
import { ConfigError, validateConfig } from '../../lib/config/validate.js';

export async function run(argv: string[]): Promise<number> {
  const [file] = argv;
  if (!file) {
    process.stderr.write('Usage: kiln validate-config <config.json>\n');
    return 2;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`kiln validate-config: cannot read ${file} as JSON: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const config = validateConfig(raw);
    process.stdout.write(`${file}: valid (${config.name}: ${config.train.nodes} node(s), ${config.train.steps} steps)\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${file}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
