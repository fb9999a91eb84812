/**
 * Where ingest's Parquet files come from, listed and made local for row-group reads:
 *
 *   file:///data/stack  file:///data/stack/x.parquet  file://./data/**\/*.parquet   local files, folders, globs
 *   s3://bucket/prefix  s3://bucket/raw/*\/train-*.parquet                         S3 prefixes (paginated) and globs
 *   https://host/x.parquet                                                         one URL (e.g. a hub resolve/ URL)
 *   hf://datasets/<owner>/<name>[@rev]/<path or glob>                              the Hugging Face hub (hubSource.ts)
 *
 * Globs: `*`, `**`, `?`, `[...]`, `{a,b}` (picomatch) in the path; the folder before the first
 * glob segment is listed. Folders yield every `*.parquet` below them.
 *
 * Remote files are spooled to a local temporary file (streamed, resumed after a dropped
 * connection) and read from there row group by row group: memory stays bounded whatever the file
 * size, and local disk needs room for one source file at a time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import picomatch from 'picomatch';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { fileUriToPath, isKilnFailure } from './fileStore.js';
import { GLOB_CHARS, isHubUri, listHubFiles, staticPrefix } from './hubSource.js';
import { HttpStore } from './httpStore.js';
import { parseS3Uri } from './s3Store.js';
import { byUri, type ArtifactStore } from './types.js';

export interface SourceFile {
  /** The name in manifests and messages (file://, s3://, https:// or hf://). */
  uri: string;
  /** What the store reads (the resolve/ URL for hf:// files; else the same as uri). */
  fetch: string;
  size: number;
  /** Content id when the listing gives one (hub files). */
  version?: string;
}

/** `uri` without its query string or fragment (which may hold signatures: never logged or stored). */
export const withoutQuery = (uri: string) => uri.replace(/[?#].*$/, '');
const isParquet = (uri: string) => /\.parquet$/i.test(withoutQuery(uri));

/** Splits `<scheme>://<static part>/<glob part>` at the first segment holding a glob character. */
function splitGlob(uri: string): { base: string } | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(uri)?.[0] ?? '';
  const rest = uri.slice(scheme.length);
  return GLOB_CHARS.test(rest) ? { base: scheme + staticPrefix(rest) } : undefined;
}

/**
 * The Parquet files of a source, sorted by URI. Nothing found -> fatal NotFound naming the source.
 * `http` reads hf:// listings (tests pass one with short retry delays).
 */
export async function listSourceFiles(store: ArtifactStore, source: string, http: HttpStore = new HttpStore()): Promise<SourceFile[]> {
  let files: SourceFile[];
  let listedCount: number;
  if (isHubUri(source)) {
    files = (await listHubFiles(source, http)).map((f) => ({ uri: f.uri, fetch: f.url, size: f.size, ...(f.version ? { version: f.version } : {}) }));
    listedCount = files.length;
  } else {
    const glob = /^(file|s3):/i.test(source) ? splitGlob(source) : undefined;
    if (glob) {
      const listed = await store.list(glob.base);
      listedCount = listed.length;
      const matches = globMatcher(source);
      files = listed.filter((o) => matches(o.uri)).map((o) => ({ uri: o.uri, fetch: o.uri, size: o.size }));
    } else {
      const listed = await store.list(source);
      listedCount = listed.length;
      files = listed
        .filter((o) => isParquet(o.uri) || (o.uri === source && /^https?:/i.test(source)))
        .map((o) => ({ uri: o.uri, fetch: o.uri, size: o.size }));
    }
  }
  if (files.length === 0) {
    const what = listedCount === 0 ? 'nothing found' : `${listedCount} object(s), none matching`;
    throw fatal(ErrorType.NotFound, `no Parquet files at ${source} (${what}).`);
  }
  return files.sort(byUri);
}

/** Matches listed URIs against the glob of `source` (local paths decoded; S3 keys literal). */
function globMatcher(source: string): (uri: string) => boolean {
  if (/^file:/i.test(source)) {
    const isMatch = picomatch(fileUriToPath(source), { dot: true });
    return (uri) => isMatch(fileUriToPath(uri));
  }
  const { bucket, key } = parseS3Uri(source);
  const isMatch = picomatch(key, { dot: true });
  return (uri) => {
    const loc = parseS3Uri(uri);
    return loc.bucket === bucket && isMatch(loc.key);
  };
}

/** A local copy of a source file for row-group reads; `release` removes a spooled copy. */
export interface LocalSource {
  path: string;
  release(): Promise<void>;
}

export interface SpoolOptions {
  /** Attempts for a transient failure of a spool (default 4; HttpStore retries within each too). */
  attempts?: number;
  retryDelayMs?: number;
  http?: HttpStore;
}

/**
 * The file as a local path: local files as they are, remote ones downloaded to a temporary
 * folder. Transient failures are retried a few times here, then passed on (retryable).
 */
export async function localSource(store: ArtifactStore, file: SourceFile, opts: SpoolOptions = {}): Promise<LocalSource> {
  if (/^file:/i.test(file.fetch)) return { path: fileUriToPath(file.fetch), release: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), 'kiln-ingest-spool-'));
  const path = join(dir, 'source.parquet');
  const release = () => rm(dir, { recursive: true, force: true });
  const attempts = Math.max(1, opts.attempts ?? 4);
  let delay = opts.retryDelayMs ?? 500;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        if (/^https?:/i.test(file.fetch)) await (opts.http ?? new HttpStore()).download(file.fetch, path);
        else await store.download(file.fetch, path);
        return { path, release };
      } catch (err) {
        if (isKilnFailure(err) && err.nonRetryable) throw err;
        if (attempt >= attempts) throw err;
        await sleep(delay);
        delay *= 2;
      }
    }
  } catch (err) {
    await release();
    throw err;
  }
}
