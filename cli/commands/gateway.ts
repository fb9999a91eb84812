/**
 * kiln gateway [--host H] [--port P] [--routes routes.json] ...: the serving gateway in the
 * foreground (kiln up starts one beside the workers). Client keys come from KILN_GATEWAY_KEYS or
 * KILN_GATEWAY_KEYS_FILE, the admin key from KILN_GATEWAY_ADMIN_KEY; none is ever printed.
 * Prints one JSON line `{"event":"listening","url":...}` on stdout once it listens (as the
 * engines do), then a JSON line per request on stderr.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { loadKeys } from '../../gateway/auth.js';
import { RequestError } from '../../gateway/errors.js';
import { validateRoutes } from '../../gateway/routing.js';
import { Gateway } from '../../gateway/server.js';

const USAGE = `Usage: kiln gateway [options]
  --host H                 address to listen on (default 127.0.0.1; 0.0.0.0 in a container)
  --port P                 port (default 8400; 0 picks a free one)
  --routes FILE            initial routes, {"routes":[{"version","url","weight"}]} (the admin API replaces them)
  --state FILE             keep the routes there: PUT /admin/routes writes it, a restart reads it (wins over --routes)
  --max-body-bytes N       larger request bodies get 413 (default 1048576)
  --max-tokens N           largest max_tokens accepted (default 4096)
  --health-interval-ms N   engine health-check period (default 2000)
  --request-timeout-ms N   longest wait for an engine (default 120000)
  --model-name NAME        the \`model\` that means "route me by weight" (default kiln)
Environment: KILN_GATEWAY_KEYS="name:key,..." or KILN_GATEWAY_KEYS_FILE (client keys, required),
KILN_GATEWAY_ADMIN_KEY (admin API; off without it).
`;

function integer(values: Record<string, unknown>, name: string, fallback: number, min: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`expected \`--${name}\` to be an integer >= ${min}, got \`${String(raw)}\`.`);
  return n;
}

class UsageError extends Error {}

export async function run(argv: string[]): Promise<number> {
  let gateway: Gateway;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string' },
        routes: { type: 'string' },
        state: { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-tokens': { type: 'string' },
        'health-interval-ms': { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'model-name': { type: 'string', default: 'kiln' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    let routes;
    if (values.routes) {
      try {
        routes = validateRoutes(JSON.parse(readFileSync(values.routes, 'utf8')));
      } catch (err) {
        const field = err instanceof RequestError && err.param ? ` (${err.param})` : '';
        process.stderr.write(`kiln gateway: --routes ${values.routes}${field}: ${(err as Error).message}\n`);
        return 1;
      }
    }
    gateway = new Gateway({
      keys: loadKeys(),
      host: values.host,
      port: integer(values, 'port', 8400, 0),
      routes,
      stateFile: values.state,
      maxBodyBytes: integer(values, 'max-body-bytes', 1 << 20, 1),
      maxTokens: integer(values, 'max-tokens', 4096, 1),
      healthIntervalMs: integer(values, 'health-interval-ms', 2000, 100),
      requestTimeoutMs: integer(values, 'request-timeout-ms', 120_000, 100),
      modelName: values['model-name'],
    });
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`kiln gateway: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ApplicationFailure) {
      process.stderr.write(`kiln gateway: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const url = await gateway.listen();
  process.stdout.write(JSON.stringify({ event: 'listening', url }) + '\n');
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await gateway.close();
  return 0;
}
