/**
 * One completion forwarded to an engine. Non-streaming answers are read whole; SSE streams are
 * passed through event by event, with each chunk's `id` and `model` rewritten to the gateway's
 * completion id and the version that answers. SSE framing is simple enough (events end with a
 * blank line, payloads on `data:` lines) that a parser library would add more than it saves.
 * node:http with keep-alive agents rather than fetch: about a third of fetch's CPU per request
 * on loopback (measured with process.cpuUsage), and this path runs for every completion.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface Upstream {
  status: number;
  /** Milliseconds from sending to the first answer byte (first SSE event with text when streaming). */
  firstByteMs?: number;
  /** Completion tokens: the engine's `usage` when it sends one, else one per streamed text chunk. */
  tokens: number;
  /** The stream broke after the headers were sent. */
  broken: boolean;
}

type Chunk = { id?: string; model?: string; choices?: { text?: string }[]; usage?: { completion_tokens?: number } };

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * POSTs `body` to `${url}/v1/completions`; resolves with the engine's response, rejects when none
 * came. A kept-alive socket that the engine closed just as it was reused fails with ECONNRESET
 * before any byte is answered: that is retried on another socket (as Node's docs advise), so only
 * a real failure takes the engine out of rotation.
 */
function post(url: string, body: string, signal: AbortSignal, attempt = 0): Promise<IncomingMessage> {
  const target = new URL(`${url}/v1/completions`);
  const tls = target.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(
      target,
      {
        method: 'POST',
        agent: tls ? agents.https : agents.http,
        signal,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) },
      },
      resolve,
    );
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && err.code === 'ECONNRESET' && !signal.aborted && attempt < 2) resolve(post(url, body, signal, attempt + 1));
      else reject(err);
    });
    req.end(body);
  });
}

/** The whole body of a response; rejects if the engine cut it off. */
function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.once('end', () => resolve(text));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('the engine cut its answer off')));
  });
}

/** Sends the body to the engine; throws only when no answer came (connection failures, abort). */
export async function forward(opts: {
  url: string;
  body: Record<string, unknown>;
  completionId: string;
  version: string;
  res: ServerResponse;
  signal: AbortSignal;
  onFirstByte: (ms: number) => void;
}): Promise<Upstream> {
  const started = performance.now();
  const upstream = await post(opts.url, JSON.stringify(opts.body), opts.signal);
  const status = upstream.statusCode ?? 502;
  const contentType = upstream.headers['content-type'] ?? 'application/json';
  let first: number | undefined;
  const mark = () => {
    if (first === undefined) opts.onFirstByte((first = performance.now() - started));
  };

  if (!(status === 200 && contentType.includes('text/event-stream'))) {
    const text = await readAll(upstream);
    mark();
    let out = text;
    let tokens = 0;
    let answered = status;
    if (status === 200) {
      try {
        const body = JSON.parse(text) as Chunk;
        tokens = body.usage?.completion_tokens ?? 0;
        out = JSON.stringify({ ...body, id: opts.completionId, model: opts.version });
      } catch {
        answered = 502;
        out = JSON.stringify({ error: { message: `The engine of ${opts.version} answered something that is not JSON.`, type: 'server_error', param: null, code: 'bad_gateway' } });
      }
    }
    opts.res.writeHead(answered, { 'content-type': answered === 502 ? 'application/json' : contentType, 'content-length': Buffer.byteLength(out) });
    opts.res.end(out);
    return { status: answered, firstByteMs: first, tokens, broken: false };
  }

  opts.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let chunks = 0;
  let usageTokens: number | undefined;
  let pending = '';
  const emit = (block: string) => {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data === '') return;
    if (data === '[DONE]') {
      opts.res.write('data: [DONE]\n\n');
      return;
    }
    let chunk: Chunk;
    try {
      chunk = JSON.parse(data) as Chunk;
    } catch {
      opts.res.write(`data: ${data}\n\n`); // not ours to judge: pass it on as it came
      return;
    }
    if (chunk.choices?.some((c) => c.text)) {
      mark();
      chunks += 1;
    }
    if (typeof chunk.usage?.completion_tokens === 'number') usageTokens = chunk.usage.completion_tokens;
    opts.res.write(`data: ${JSON.stringify({ ...chunk, id: opts.completionId, model: opts.version })}\n\n`);
  };
  const complete = await new Promise<boolean>((resolve) => {
    upstream.setEncoding('utf8');
    upstream.on('data', (text: string) => {
      pending += text;
      const blocks = pending.split(/\r?\n\r?\n/);
      pending = blocks.pop()!;
      for (const block of blocks) emit(block);
    });
    upstream.once('end', () => resolve(true));
    upstream.once('error', () => resolve(false));
    upstream.once('aborted', () => resolve(false));
  });
  if (complete && pending.trim()) emit(pending);
  opts.res.end();
  // An aborted client is not the engine's fault.
  return { status: 200, firstByteMs: first, tokens: usageTokens ?? chunks, broken: !complete && !opts.signal.aborted };
}
