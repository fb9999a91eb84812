/**
 * A local static HTTP server over a directory, shaped like the Hugging Face hub for tests:
 *
 *   /files/<path>              the file (GET, HEAD, Range: bytes=a-b | a- | -n; 416 past the end)
 *   /resolve/<path>            302 to /files/<path> on the same origin (the hub's resolve/ redirect)
 *   /cdn/<path>                302 to http://localhost:<port>/files/<path>: another origin (a CDN)
 *   /no-head/<path>            like /files but HEAD answers 405 (servers that refuse HEAD)
 *   /flaky/<n>/<path>          503 (Retry-After: 0) for the first n requests to that URL, then /files
 *   /status/<code>             an empty response with that status (404, 403, 401, 500...)
 *
 * Every request is recorded (method, url, headers) so tests can check what was sent.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface TestHttpServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  port: number;
  requests: RecordedRequest[];
  /** Forgets the flaky counters and the recorded requests. */
  reset(): void;
  stop(): Promise<void>;
}

export async function startHttpServer(root: string): Promise<TestHttpServer> {
  const requests: RecordedRequest[] = [];
  const flakyCounts = new Map<string, number>();
  let port = 0;

  async function serveFile(req: IncomingMessage, res: ServerResponse, rel: string, allowHead: boolean): Promise<void> {
    const path = normalize(join(root, decodeURIComponent(rel)));
    if (!path.startsWith(normalize(root) + sep)) return end(res, 403);
    if (req.method === 'HEAD' && !allowHead) return end(res, 405);
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) return end(res, 404);
      size = st.size;
    } catch {
      return end(res, 404);
    }
    const range = req.headers.range;
    let start = 0;
    let last = size - 1;
    let status = 200;
    if (range !== undefined) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      if (m === null || (m[1] === '' && m[2] === '')) return end(res, 416, { 'content-range': `bytes */${size}` });
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') last = Math.min(last, Number(m[2]));
      }
      if (start >= size || start > last) return end(res, 416, { 'content-range': `bytes */${size}` });
      status = 206;
    }
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-length': last - start + 1,
      'accept-ranges': 'bytes',
    };
    if (status === 206) headers['content-range'] = `bytes ${start}-${last}/${size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    createReadStream(path, { start, end: last }).pipe(res);
  }

  function end(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-length': 0, ...headers });
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', url, headers: req.headers });
    const pathname = url.split('?')[0]!;
    let m: RegExpExecArray | null;
    if ((m = /^\/files\/(.+)$/.exec(pathname))) return serveFile(req, res, m[1]!, true);
    if ((m = /^\/no-head\/(.+)$/.exec(pathname))) return serveFile(req, res, m[1]!, false);
    if ((m = /^\/resolve\/(.+)$/.exec(pathname))) return end(res, 302, { location: `/files/${m[1]}` });
    if ((m = /^\/cdn\/(.+)$/.exec(pathname))) return end(res, 302, { location: `http://localhost:${port}/files/${m[1]}` });
    if ((m = /^\/flaky\/(\d+)\/(.+)$/.exec(pathname))) {
      const seen = flakyCounts.get(pathname) ?? 0;
      flakyCounts.set(pathname, seen + 1);
      if (seen < Number(m[1])) return end(res, 503, { 'retry-after': '0' });
      return serveFile(req, res, m[2]!, true);
    }
    if ((m = /^\/status\/(\d{3})$/.exec(pathname))) return end(res, Number(m[1]));
    return end(res, 404);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) end(res, 500);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    requests,
    reset() {
      flakyCounts.clear();
      requests.length = 0;
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
