/**
 * Simulated editor users against a running gateway (lib/simulate/users.ts), for demos and for
 * watching a rollout decide:
 *
 *   KILN_GATEWAY_CLIENT_KEY=<a client key> npx tsx scripts/simulate-users.ts --gateway http://127.0.0.1:8400 \
 *     --users 300 --requests 3000 --seed 1 --p 'v1:Python=0.3,Go=0.35;v2:Python=0.6,Go=0.65'
 *
 * --p gives each version's acceptance probability per language (the gateway's language names);
 * the key comes from the environment only. Prints what the users did per version and language.
 */
import { parseArgs } from 'node:util';
import { simulateUsers } from '../lib/simulate/users.js';

function parseAcceptance(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const part of text.split(';').filter(Boolean)) {
    const [version, langs] = part.split(':');
    if (!version || !langs) throw new Error(`Expected --p like 'v1:Python=0.3,Go=0.4;v2:...', got \`${part}\`.`);
    out[version.trim()] = Object.fromEntries(
      langs.split(',').map((kv) => {
        const [lang, p] = kv.split('=');
        const value = Number(p);
        if (!lang || !(value >= 0 && value <= 1)) throw new Error(`Expected language=probability in [0, 1], got \`${kv}\`.`);
        return [lang.trim(), value];
      }),
    );
  }
  return out;
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      gateway: { type: 'string', default: process.env.KILN_GATEWAY_URL },
      users: { type: 'string', default: '300' },
      requests: { type: 'string', default: '3000' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '8' },
      p: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help || !v.gateway || !v.p) {
    process.stdout.write("Usage: KILN_GATEWAY_CLIENT_KEY=<key> tsx scripts/simulate-users.ts --gateway <url> --p 'v1:Python=0.3,Go=0.4;v2:...' [--users 300] [--requests 3000] [--seed 1] [--concurrency 8]\n");
    return v.help ? 0 : 2;
  }
  const clientKey = process.env.KILN_GATEWAY_CLIENT_KEY;
  if (!clientKey) throw new Error('Set KILN_GATEWAY_CLIENT_KEY to one of the gateway\'s client keys.');
  const started = performance.now();
  const result = await simulateUsers({ gatewayUrl: v.gateway, clientKey, users: Number(v.users), requests: Number(v.requests), seed: Number(v.seed), concurrency: Number(v.concurrency), acceptance: parseAcceptance(v.p) });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${result.requests} completions (${result.errors} failed) in ${seconds.toFixed(1)} s: ${(result.requests / seconds).toFixed(0)} completions/s with their events\n`);
  process.stdout.write('version  language      completions  views  accepts  acceptance\n');
  for (const [version, langs] of Object.entries(result.byVersion)) {
    for (const [language, c] of Object.entries(langs)) {
      process.stdout.write(`${version.padEnd(8)} ${language.padEnd(13)} ${String(c.completions).padStart(11)} ${String(c.views).padStart(6)} ${String(c.accepts).padStart(8)} ${((100 * c.accepts) / Math.max(1, c.views)).toFixed(1).padStart(9)}%\n`);
    }
  }
  if (result.unknownVersions.length) process.stdout.write(`versions without --p (their completions were rejected): ${result.unknownVersions.join(', ')}\n`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`simulate-users: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
