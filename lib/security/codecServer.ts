/**
 * A codec server: the HTTP protocol the Temporal UI and CLI use to show encrypted payloads
 * (`temporal server start-dev --ui-codec-endpoint`, the UI's "Codec Server" setting,
 * `temporal workflow show --codec-endpoint`). POST .../encode and .../decode take and return
 * `{"payloads": [{"metadata": {k: base64}, "data": base64}]}` (Payloads in protobuf JSON); only
 * the last path segment counts, so the server can be mounted under any prefix.
 *
 * The browser calls it straight from the UI's page: CORS answers only the listed UI origins. With
 * a token, every request must carry `Authorization: Bearer <token>` (the CLI's `--codec-auth`).
 * Keys stay in this process; nothing is logged but the counts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins allowed to call from a browser (the Temporal UI's), e.g. http://localhost:8233. */
  origins: string[];
  /** When set, requests must send `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const b64 = (u: Uint8Array | null | undefined) => Buffer.from(u ?? new Uint8Array()).toString('base64');

function fromJson(p: JsonPayload): Payload {
  if (p === null || typeof p !== 'object') throw new TypeError('each payload must be an object with `metadata` and `data`');
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return { metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) };
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function createCodecServer(opts: CodecServerOptions): Server {
  const limit = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  return createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof ApplicationFailure || err instanceof SyntaxError || err instanceof TypeError ? 400 : 500;
      send(res, status, { error: (err as Error).message });
    });
  });

  function cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (origin && opts.origins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    }
    res.setHeader('Vary', 'Origin');
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) return void res.end();
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    cors(req, res);
    if (req.method === 'OPTIONS') return void (res.writeHead(204), res.end());
    const op = new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '').split('/').pop();
    if (op !== 'encode' && op !== 'decode') throw new HttpError(404, 'POST .../encode or .../decode');
    if (req.method !== 'POST') throw new HttpError(405, `${op} takes POST`);
    if (opts.token && !tokenMatches(req.headers.authorization, opts.token)) throw new HttpError(401, 'missing or wrong Authorization: Bearer token');
    const body = JSON.parse((await readBody(req, limit)).toString('utf8')) as { payloads?: unknown };
    if (!Array.isArray(body?.payloads)) throw new HttpError(400, 'the body must be {"payloads": [...]}');
    const payloads = (body.payloads as JsonPayload[]).map(fromJson);
    const out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    send(res, 200, { payloads: out.map(toJson) });
  }
}
