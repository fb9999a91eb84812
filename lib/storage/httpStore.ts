/**
 * Read-only `https://` (and `http://`) artifact store over fetch. An https URI names one object, e.g.
 * a Hugging Face hub file:
 *   https://huggingface.co/datasets/x/y/resolve/main/data/python/train-00000-of-00001.parquet
 *
 * Redirects are followed (the hub answers `resolve/` with a redirect to its CDN). Authentication:
 * when HF_TOKEN is set, `Authorization: Bearer <HF_TOKEN>` goes to the Hugging Face hub
 * (huggingface.co, hf.co and their subdomains, plus the host of HF_ENDPOINT when that names a
 * mirror), and only on hops that stay on the origin first asked: never to a CDN or any other host a
 * redirect points to. The token is never logged or put in a message.
 *
 * Errors: 404/410 -> fatal NotFound; 401/403 -> fatal AccessDenied; 5xx, 429 and network errors are
 * retried a few times quickly, then thrown as a plain (retryable) error for Temporal to retry later.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { fsError, isKilnFailure, retryable, tmpPathFor } from './fileStore.js';
import type { ArtifactStore, ObjectInfo } from './types.js';

export interface HttpStoreOptions {
  /** Attempts per operation, the first included (default 4). */
  attempts?: number;
  /** Delay before the first retry, doubled after each (default 250 ms; Retry-After is honoured up to 5 s). */
  retryDelayMs?: number;
  /** Environment to read HF_TOKEN / HF_ENDPOINT from (default process.env, read at each request). */
  env?: NodeJS.ProcessEnv;
}

const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

class RetryableHttp extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function checkHttpUri(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw fatal(ErrorType.Unsupported, `Expected an https:// URL, got \`${uri}\`.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw fatal(ErrorType.Unsupported, `Expected an https:// URL, got \`${uri}\`.`);
  }
  return url;
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Hosts that get HF_TOKEN: the hub, its subdomains, and the configured mirrors (HF_ENDPOINT, KILN_HF_DATASETS_SERVER). */
function tokenHosts(env: NodeJS.ProcessEnv): (host: string) => boolean {
  const mirrors = [hostOf(env.HF_ENDPOINT), hostOf(env.KILN_HF_DATASETS_SERVER)].filter((h): h is string => h !== undefined);
  return (host: string) => {
    const h = host.toLowerCase();
    return h === 'huggingface.co' || h.endsWith('.huggingface.co') || h === 'hf.co' || h.endsWith('.hf.co') || mirrors.includes(h);
  };
}

function retryAfterMs(res: Response): number | undefined {
  const v = res.headers.get('retry-after');
  if (v === null) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

function networkDetail(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause;
  const parts = [e?.message, cause?.code, cause?.message].filter((s): s is string => typeof s === 'string' && s !== '');
  return [...new Set(parts)].join(': ') || String(err);
}

/** The Content-Length header as a number, when it holds one. */
function contentLength(res: Response): number | undefined {
  const n = res.headers.get('content-length');
  return n !== null && /^\d+$/.test(n) ? Number(n) : undefined;
}

/** The size of a response body, counted by reading it through (no usable length header). */
async function bodySize(res: Response): Promise<number> {
  let size = 0;
  for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) size += chunk.byteLength;
  return size;
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

export class HttpStore implements ArtifactStore {
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(opts: HttpStoreOptions = {}) {
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.env = opts.env;
  }

  /**
   * One request, following redirects by hand so that the token goes only where it belongs.
   * Returns the final response (any status except a redirect).
   */
  private async request(uri: string, method: 'GET' | 'HEAD', extra: Record<string, string> = {}): Promise<Response> {
    const env = this.env ?? process.env;
    const token = env.HF_TOKEN && env.HF_TOKEN.trim() !== '' ? env.HF_TOKEN.trim() : undefined;
    const first = checkHttpUri(uri);
    const sendToken = token !== undefined && tokenHosts(env)(first.host);
    let url = first;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = {
        'accept-encoding': 'identity', // sizes from HEAD match the bytes a GET delivers
        'user-agent': 'kiln-artifact-store',
        ...extra,
      };
      if (sendToken && url.origin === first.origin) headers.authorization = `Bearer ${token}`;
      let res: Response;
      try {
        res = await fetch(url, { method, headers, redirect: 'manual' });
      } catch (err) {
        throw new RetryableHttp(`${method} ${uri} failed: ${networkDetail(err)}`);
      }
      if (!REDIRECT_STATUSES.has(res.status)) return res;
      const location = res.headers.get('location');
      await discard(res);
      if (location === null) throw fatal(ErrorType.InvalidInput, `${uri}: HTTP ${res.status} redirect without a Location header.`);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw fatal(ErrorType.Unsupported, `${uri} redirects to an unsupported scheme (${next.protocol}).`);
      }
      url = next;
    }
    throw fatal(ErrorType.InvalidInput, `${uri}: more than ${MAX_REDIRECTS} redirects.`);
  }

  /** Throws the fatal failure for a final non-success status (or RetryableHttp for a transient one). */
  private async statusError(uri: string, res: Response): Promise<never> {
    await discard(res);
    const s = res.status;
    if (s === 404 || s === 410) throw fatal(ErrorType.NotFound, `No object at ${uri} (HTTP ${s}).`, { uri, status: s });
    if (s === 401 || s === 403) {
      const env = this.env ?? process.env;
      const hint = env.HF_TOKEN
        ? 'HF_TOKEN is set but was refused: check that it grants access to this repository (gated datasets need their terms accepted).'
        : 'For a private or gated Hugging Face repository, set HF_TOKEN to a token with access.';
      throw fatal(ErrorType.AccessDenied, `Access to ${uri} was refused (HTTP ${s}). ${hint}`, { uri, status: s });
    }
    if (RETRY_STATUSES.has(s) || s >= 500) throw new RetryableHttp(`${uri}: HTTP ${s}`, retryAfterMs(res));
    throw fatal(ErrorType.InvalidInput, `${uri}: unexpected HTTP ${s}.`, { uri, status: s });
  }

  /** Runs `fn` with quick retries on transient failures; fatal failures pass straight through. */
  private async withRetries<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let delay = this.retryDelayMs;
    let last: RetryableHttp | undefined;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (isKilnFailure(err) && err.nonRetryable) throw err;
        last = err instanceof RetryableHttp ? err : new RetryableHttp(`${what}: ${networkDetail(err)}`);
        if (attempt === this.attempts) break;
        await sleep(Math.min(Math.max(delay, last.retryAfterMs ?? 0), 5_000));
        delay *= 2;
      }
    }
    throw retryable(`${last?.message ?? what} (after ${this.attempts} attempts; a later retry may succeed)`);
  }

  async readBytes(uri: string): Promise<Uint8Array> {
    return this.withRetries(`GET ${uri}`, async () => {
      const res = await this.request(uri, 'GET');
      if (res.status !== 200) return this.statusError(uri, res);
      try {
        return new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        throw new RetryableHttp(`GET ${uri}: body interrupted: ${networkDetail(err)}`);
      }
    });
  }

  /**
   * Streams the object to a local file, atomically. A connection dropped mid-body is resumed with
   * a Range request from the bytes already on disk (If-Range on the ETag, so a changed object
   * restarts from zero); a server that ignores Range sends it all again.
   */
  async download(uri: string, localPath: string): Promise<void> {
    const path = resolve(localPath);
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (err) {
      throw fsError(err, path, 'write');
    }
    const tmp = tmpPathFor(path);
    const state = { written: 0, etag: undefined as string | undefined };
    try {
      await this.withRetries(`GET ${uri}`, () => this.downloadAttempt(uri, tmp, state));
      await rename(tmp, path).catch((err) => {
        throw fsError(err, path, 'write');
      });
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  private async downloadAttempt(uri: string, tmp: string, state: { written: number; etag: string | undefined }): Promise<void> {
    const resume = state.written > 0;
    const headers: Record<string, string> = resume ? { range: `bytes=${state.written}-`, ...(state.etag ? { 'if-range': state.etag } : {}) } : {};
    const res = await this.request(uri, 'GET', headers);
    let total: number | undefined;
    if (resume && res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)/.exec(res.headers.get('content-range') ?? '');
      if (m === null || Number(m[1]) !== state.written) {
        await discard(res);
        state.written = 0; // a range we did not ask for: start over
        throw new RetryableHttp(`GET ${uri}: unexpected Content-Range ${res.headers.get('content-range')}`);
      }
      if (m[2] !== '*') total = Number(m[2]);
    } else if (res.status === 200) {
      state.written = 0;
      total = contentLength(res);
    } else {
      return this.statusError(uri, res);
    }
    state.etag = res.headers.get('etag') ?? state.etag;
    let fh;
    try {
      fh = await open(tmp, state.written > 0 ? 'a' : 'w');
    } catch (err) {
      await discard(res);
      throw fsError(err, tmp, 'write');
    }
    try {
      const chunks = ((res.body ?? []) as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await chunks.next();
        } catch (err) {
          throw new RetryableHttp(`GET ${uri}: body interrupted after ${state.written} bytes: ${networkDetail(err)}`);
        }
        if (next.done) break;
        try {
          await fh.write(next.value);
        } catch (err) {
          await discard(res);
          throw fsError(err, tmp, 'write');
        }
        state.written += next.value.byteLength;
      }
      if (total !== undefined && state.written !== total) {
        throw new RetryableHttp(`Transfer of ${uri} ended early: got ${state.written} of ${total} bytes.`);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** GETs a JSON document (listing APIs); returns it with the response headers. */
  async getJson(uri: string): Promise<{ body: unknown; headers: Headers }> {
    return this.withRetries(`GET ${uri}`, async () => {
      const res = await this.request(uri, 'GET', { accept: 'application/json' });
      if (res.status !== 200) return this.statusError(uri, res);
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw new RetryableHttp(`GET ${uri}: body interrupted: ${networkDetail(err)}`);
      }
      try {
        return { body: JSON.parse(text) as unknown, headers: res.headers };
      } catch {
        throw fatal(ErrorType.InvalidInput, `${uri} did not answer JSON (got ${JSON.stringify(text.slice(0, 80))}).`, { uri });
      }
    });
  }

  async exists(uri: string): Promise<boolean> {
    return (await this.probe(uri)) !== undefined;
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const size = await this.probe(prefixUri);
    return size === undefined ? [] : [{ uri: prefixUri, size }];
  }

  /** The object's size, or undefined when it does not exist. HEAD first; a ranged GET where HEAD is refused. */
  private async probe(uri: string): Promise<number | undefined> {
    return this.withRetries(`HEAD ${uri}`, async () => {
      const head = await this.request(uri, 'HEAD');
      await discard(head);
      if (head.status === 200) {
        return contentLength(head) ?? this.rangedSize(uri);
      }
      if (head.status === 404 || head.status === 410) return undefined;
      // Refused HEAD: method not allowed, or a signed URL that only allows GET.
      if ([401, 403, 405, 501].includes(head.status)) return this.rangedSize(uri);
      return this.statusError(uri, head);
    });
  }

  private async rangedSize(uri: string): Promise<number | undefined> {
    const res = await this.request(uri, 'GET', { range: 'bytes=0-0' });
    if (res.status === 404 || res.status === 410) {
      await discard(res);
      return undefined;
    }
    if (res.status === 206 || res.status === 416) {
      await discard(res);
      const total = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
      if (total) return Number(total[1]);
      if (res.status === 416) return 0; // a range past the end of an empty object
    }
    if (res.status === 200) {
      const n = contentLength(res);
      if (n !== undefined) {
        await discard(res);
        return n;
      }
      return bodySize(res);
    }
    if (res.status === 206) {
      // No total in Content-Range (`bytes 0-0/*`): count the whole object.
      const full = await this.request(uri, 'GET');
      if (full.status !== 200) return this.statusError(uri, full);
      return bodySize(full);
    }
    return this.statusError(uri, res);
  }

  private readOnly(uri: string): never {
    throw fatal(ErrorType.Unsupported, `${uri} is read-only: kiln writes artifacts only to file:// or s3:// URIs.`);
  }

  async writeBytes(uri: string, _data?: Uint8Array | string): Promise<void> {
    this.readOnly(uri);
  }

  async upload(_localPath: string, uri: string): Promise<void> {
    this.readOnly(uri);
  }

  async remove(uri: string): Promise<void> {
    this.readOnly(uri);
  }

  async move(srcUri: string): Promise<void> {
    this.readOnly(srcUri);
  }
}
