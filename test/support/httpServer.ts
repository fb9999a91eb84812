/**
 * A local static HTTP server over a directory, shaped like the Hugging Face hub for tests:
 *
 *   /files/<path>              the file (GET, HEAD, Range: bytes=a-b | a- | -n; 416 past the end)
 *   /resolve/<path>            302 to /files/<path> on the same origin (the hub's resolve/ redirect)
 *   /cdn/<path>                302 to http://localhost:<port>/files/<path>: another origin (a CDN)
 *   /no-head/<path>            like /files but HEAD answers 405 (servers that refuse HEAD)
 *   /no-range/<path>           like /files but Range is ignored (always 200 and the whole file)
 *   /flaky/<n>/<path>          503 (Retry-After: 0) for the first n requests to that URL, then /files
 *   /status/<code>             an empty response with that status (404, 403, 401, 500...)
 *
 * and the Hugging Face hub's own URL layout over `<root>/datasets/<owner>/<name>/...`:
 *
 *   /datasets/<repo>/resolve/<rev>/<path>       302 to the "CDN" http://localhost:<port>/files/... (another
 *                                               origin); rev refs/convert/parquet reads <repo>/refs-convert-parquet/
 *   /api/datasets/<repo>/tree/<rev>/<dir>?recursive=true   the tree API: JSON entries, `treePageSize` per
 *                                               page, the next page in a `Link: <...>; rel="next"` header
 *   /parquet?dataset=<repo>                     the datasets-server listing of <repo>/refs-convert-parquet/<config>/<split>/*.parquet
 *
 * With `hubToken`, the hub routes answer 401 unless `Authorization: Bearer <hubToken>` is sent.
 * `fault(pattern, times, what)` makes the next `times` requests whose URL matches answer with a
 * status, or (`'drop'`, GETs only) send the headers and half the body, then cut the connection.
 *
 * Every request is recorded (method, url, headers) so tests can check what was sent.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
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
  /** Forgets the flaky counters, the faults and the recorded requests. */
  reset(): void;
  /** The next `times` requests whose URL matches `pattern` fail with `what` (a status or a dropped connection). */
  fault(pattern: RegExp, times: number, what: number | 'drop'): void;
  stop(): Promise<void>;
}

export interface HttpServerOptions {
  /** Hub routes require this bearer token. */
  hubToken?: string;
  /** Entries per page of the tree API (default 1000). */
  treePageSize?: number;
  /** The /parquet listing says the export is partial. */
  parquetExportPartial?: boolean;
}

interface Fault {
  pattern: RegExp;
  times: number;
  what: number | 'drop';
}

async function walkFiles(dir: string, rel = ''): Promise<{ path: string; size: number; dir: boolean }[]> {
  let entries;
  try {
    entries = await readdir(join(dir, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: { path: string; size: number; dir: boolean }[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push({ path: p, size: 0, dir: true }, ...(await walkFiles(dir, p)));
    else out.push({ path: p, size: (await stat(join(dir, p))).size, dir: false });
  }
  return out;
}

export async function startHttpServer(root: string, opts: HttpServerOptions = {}): Promise<TestHttpServer> {
  const requests: RecordedRequest[] = [];
  const flakyCounts = new Map<string, number>();
  const faults: Fault[] = [];
  let port = 0;

  async function serveFile(req: IncomingMessage, res: ServerResponse, rel: string, allowHead: boolean, drop = false, ignoreRange = false): Promise<void> {
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
    const range = ignoreRange ? undefined : req.headers.range;
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
    if (drop) {
      // Half the body, then the connection is cut (a reset mid-transfer).
      const half = start + Math.floor((last - start + 1) / 2);
      const stream = createReadStream(path, { start, end: half });
      stream.on('data', (chunk) => res.write(chunk));
      stream.on('end', () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    createReadStream(path, { start, end: last }).pipe(res);
  }

  function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function hubAuthorized(req: IncomingMessage): boolean {
    return opts.hubToken === undefined || req.headers.authorization === `Bearer ${opts.hubToken}`;
  }

  const revisionDir = (rev: string) => (decodeURIComponent(rev) === 'refs/convert/parquet' ? 'refs-convert-parquet/' : '');

  async function hubTree(req: IncomingMessage, res: ServerResponse, repo: string, rev: string, dir: string, query: URLSearchParams): Promise<void> {
    const base = join(root, 'datasets', repo, revisionDir(rev));
    const all = await walkFiles(base, decodeURIComponent(dir));
    if (all.length === 0) return end(res, 404);
    const pageSize = opts.treePageSize ?? 1000;
    const cursor = Number(query.get('cursor') ?? '0');
    const page = all.slice(cursor, cursor + pageSize).map((f) => (f.dir ? { type: 'directory', path: f.path, oid: 'd' } : { type: 'file', path: f.path, size: f.size, oid: `oid-${f.size}`, lfs: { oid: `sha256-${f.path}`, size: f.size } }));
    const headers: Record<string, string> = {};
    if (cursor + pageSize < all.length) {
      const next = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      next.searchParams.set('cursor', String(cursor + pageSize));
      headers.link = `<${next.href}>; rel="next"`;
    }
    json(res, page, headers);
  }

  async function parquetListing(res: ServerResponse, repo: string): Promise<void> {
    const base = join(root, 'datasets', repo, 'refs-convert-parquet');
    const files = (await walkFiles(base)).filter((f) => !f.dir && /^[^/]+\/[^/]+\/[^/]+\.parquet$/.test(f.path));
    if (files.length === 0) return end(res, 404);
    json(res, {
      parquet_files: files.map((f) => {
        const [config, split, filename] = f.path.split('/');
        return { dataset: repo, config, split, url: `http://127.0.0.1:${port}/datasets/${repo}/resolve/refs%2Fconvert%2Fparquet/${f.path}`, filename, size: f.size };
      }),
      pending: [],
      failed: [],
      partial: opts.parquetExportPartial === true,
    });
  }

  function end(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-length': 0, ...headers });
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', url, headers: req.headers });
    const pathname = url.split('?')[0]!;
    const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    let drop = false;
    const fault = faults.find((f) => f.times > 0 && f.pattern.test(url) && (f.what !== 'drop' || req.method === 'GET'));
    if (fault) {
      fault.times--;
      if (fault.what !== 'drop') return end(res, fault.what);
      drop = true;
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(pathname))) {
      if (!hubAuthorized(req)) return end(res, 401);
      return end(res, 302, { location: `http://localhost:${port}/files/datasets/${m[1]}/${revisionDir(m[2]!)}${m[3]}` });
    }
    if ((m = /^\/api\/datasets\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(pathname))) {
      if (!hubAuthorized(req)) return end(res, 401);
      return hubTree(req, res, m[1]!, m[2]!, m[3] ?? '', query);
    }
    if (pathname === '/parquet') {
      if (!hubAuthorized(req)) return end(res, 401);
      return parquetListing(res, query.get('dataset') ?? '');
    }
    if (drop && (m = /^\/files\/(.+)$/.exec(pathname))) return serveFile(req, res, m[1]!, true, true);
    if ((m = /^\/no-range\/(.+)$/.exec(pathname))) return serveFile(req, res, m[1]!, true, drop, true);
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
      faults.length = 0;
      requests.length = 0;
    },
    fault(pattern: RegExp, times: number, what: number | 'drop') {
      faults.push({ pattern, times, what });
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
