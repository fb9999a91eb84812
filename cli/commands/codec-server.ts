/**
 * kiln codec-server [--port 8089] [--host 127.0.0.1] [--origin http://localhost:8233]...
 * Decrypts payloads for the Temporal UI and CLI with the workers' KILN_CODEC_KEYS. Runs until
 * Ctrl-C. KILN_CODEC_SERVER_TOKEN, when set, is the Bearer token every request must carry.
 */
import { parseArgs } from 'node:util';
import { codecFromEnv } from '../../lib/security/dataConverter.js';
import { createCodecServer } from '../../lib/security/codecServer.js';

const USAGE = `Usage: kiln codec-server [--port N] [--host ADDR] [--origin URL]...

Serves POST /encode and /decode (the Temporal codec server protocol) with the payload codec of
KILN_CODEC_KEYS, so the Temporal UI and \`temporal workflow show\` can show encrypted payloads.

  --port N      port to listen on (default 8089; 0 picks a free one)
  --host ADDR   address to bind (default 127.0.0.1: anyone who reaches it can decrypt)
  --origin URL  a Temporal UI origin allowed to call it from the browser (CORS); repeatable
                (default http://localhost:8233, the dev UI)

Environment: KILN_CODEC_KEYS (required; the workers' keys), KILN_CODEC_SERVER_TOKEN (optional:
requests must send "Authorization: Bearer <token>").
Point the dev UI at it: temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8089
`;

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '8089' },
        host: { type: 'string', default: '127.0.0.1' },
        origin: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`kiln codec-server: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`kiln codec-server: expected --port to be an integer from 0 to 65535, got \`${values.port}\`.\n`);
    return 2;
  }
  const codec = codecFromEnv();
  if (!codec) {
    process.stderr.write('kiln codec-server: KILN_CODEC_KEYS is not set: there is nothing to decrypt. Give it the workers\' keys.\n');
    return 1;
  }
  const origins = values.origin?.length ? values.origin : ['http://localhost:8233'];
  const server = createCodecServer({ codec, origins, token: process.env.KILN_CODEC_SERVER_TOKEN || undefined });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, values.host, resolve));
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(
    `codec server on http://${values.host}:${bound} (key ${codec.currentKeyId}; UI origins ${origins.join(', ')}${process.env.KILN_CODEC_SERVER_TOKEN ? '; bearer token required' : ''})\n`,
  );
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => server.close(() => resolve()));
  });
  return 0;
}
