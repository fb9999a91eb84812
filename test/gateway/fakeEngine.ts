// A minimal OpenAI-compatible upstream for the gateway's failure cases (an engine that dies,
// comes back, answers 500 or streams): /health, /v1/models and /v1/completions, with or without
// SSE. Real completions come from the real engine in realEngine.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeEngine {
  url: string;
  port: number;
  /** Completion requests received (their parsed bodies). */
  bodies: Record<string, unknown>[];
  /** Answer every completion with this status (500 to play a failing engine). */
  failWith?: number;
  /** Take completion requests and never answer them. */
  hang?: boolean;
  stop(): Promise<void>;
}

export async function startFakeEngine(name: string, port = 0): Promise<FakeEngine> {
  const engine: FakeEngine = { url: '', port: 0, bodies: [], stop: async () => undefined };
  const server: Server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/health') return json(200, { status: 'ok', model: name });
    if (req.method === 'GET' && req.url === '/v1/models') return json(200, { object: 'list', data: [{ id: name, object: 'model' }] });
    if (req.method !== 'POST' || req.url !== '/v1/completions') return json(404, { error: { message: 'not found' } });
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw) as { stream?: boolean; prompt?: string; max_tokens?: number; model?: string };
      engine.bodies.push(body);
      if (engine.hang) return;
      if (engine.failWith) return json(engine.failWith, { error: { message: 'engine failure', type: 'server_error', param: null } });
      if (body.model !== name) return json(404, { error: { message: `model ${body.model} not served`, type: 'invalid_request_error', param: 'model' } });
      const words = ['def', ' f', '(x', '):', ' return'].slice(0, body.max_tokens ?? 5);
      const base = { id: 'cmpl-upstream', object: 'text_completion', created: 1, model: name };
      if (!body.stream) {
        return json(200, { ...base, choices: [{ index: 0, text: words.join(''), finish_reason: 'length', logprobs: null }], usage: { prompt_tokens: 3, completion_tokens: words.length, total_tokens: 3 + words.length } });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const w of words) res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, text: w, finish_reason: null, logprobs: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, text: '', finish_reason: 'length', logprobs: null }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  engine.port = (server.address() as AddressInfo).port;
  engine.url = `http://127.0.0.1:${engine.port}`;
  engine.stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return engine;
}
