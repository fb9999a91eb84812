/**
 * Hugging Face hub datasets as ingest sources, named the way `huggingface_hub`'s HfFileSystem,
 * `datasets` and datatrove name them:
 *
 *   hf://datasets/bigcode/the-stack-dedup/data/python                   a folder (every .parquet below)
 *   hf://datasets/bigcode/the-stack-dedup/data/python/train-00000-of-00010.parquet
 *   hf://datasets/bigcode/the-stack-dedup@v1.2/data/{python,go}/*.parquet   a revision and a glob
 *   hf://datasets/bigcode/the-stack-smol@~parquet/default/train          the hub's Parquet export,
 *                                                                        listed by the datasets-server
 *
 * Files are listed with the hub's tree API (`/api/datasets/<repo>/tree/<rev>/<dir>?recursive=true`,
 * paginated through `Link: rel="next"`) or, for `@~parquet`, the datasets-server's
 * `/parquet?dataset=<repo>` listing; they are read from `<hub>/datasets/<repo>/resolve/<rev>/<path>`
 * (which redirects to a CDN). Endpoints: HF_ENDPOINT (default https://huggingface.co) and
 * KILN_HF_DATASETS_SERVER (default https://datasets-server.huggingface.co). HF_TOKEN, for gated and
 * private datasets, is read from the environment by HttpStore and sent to those hosts only.
 */
import picomatch from 'picomatch';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { retryable } from './fileStore.js';
import type { HttpStore } from './httpStore.js';
import { byUri } from './types.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_DATASETS_SERVER = 'https://datasets-server.huggingface.co';
/** The revision alias of the hub's Parquet export (`refs/convert/parquet`). */
export const PARQUET_EXPORT_REVISION = '~parquet';

export interface HubLocation {
  /** `owner/name` */
  repo: string;
  revision: string;
  /** Path in the repository: a file, a folder or a glob; '' for the whole repository. */
  path: string;
}

/** A file of a hub source: its hf:// name, the URL to read, its size and its content id. */
export interface HubFile {
  uri: string;
  url: string;
  size: number;
  /** Git/LFS object id when the listing gives one: a changed file gets a new fingerprint. */
  version?: string;
}

export function isHubUri(uri: string): boolean {
  return /^hf:\/\//i.test(uri);
}

export function parseHubUri(uri: string): HubLocation {
  const m = /^hf:\/\/datasets\/([^/@]+\/[^/@]+)(?:@([^/]+))?(?:\/(.*))?$/i.exec(uri);
  if (m === null) {
    throw fatal(
      ErrorType.Unsupported,
      `Expected a Hugging Face dataset URI hf://datasets/<owner>/<name>[@<revision>][/<path or glob>], got \`${uri}\`.`,
    );
  }
  return { repo: m[1]!, revision: m[2] === undefined ? 'main' : decodeURIComponent(m[2]), path: (m[3] ?? '').replace(/\/+$/, '') };
}

function endpoint(env: NodeJS.ProcessEnv, name: 'HF_ENDPOINT' | 'KILN_HF_DATASETS_SERVER', fallback: string): string {
  const v = env[name]?.trim();
  return (v ? v : fallback).replace(/\/+$/, '');
}

export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return endpoint(env, 'HF_ENDPOINT', DEFAULT_HF_ENDPOINT);
}

export function datasetsServerEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return endpoint(env, 'KILN_HF_DATASETS_SERVER', DEFAULT_DATASETS_SERVER);
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** The download URL of one file: `<hub>/datasets/<repo>/resolve/<revision>/<path>`. */
export function resolveUrl(repo: string, revision: string, path: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${hubEndpoint(env)}/datasets/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`;
}

/** Characters that make a path segment a glob (picomatch's syntax). */
export const GLOB_CHARS = /[*?[{]/;

/** The folder part of a path before its first glob segment (the whole path when it has none). */
export function staticPrefix(path: string): string {
  const segments = path.split('/');
  const i = segments.findIndex((s) => GLOB_CHARS.test(s));
  return (i < 0 ? segments : segments.slice(0, i)).join('/');
}

interface TreeEntry {
  type: string;
  path: string;
  size?: number;
  oid?: string;
  lfs?: { oid?: string; size?: number };
}

/** Every file below `dir` at `revision`, through the tree API's pages. */
async function listTree(http: HttpStore, loc: HubLocation, dir: string, env: NodeJS.ProcessEnv): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  let url: string | undefined =
    `${hubEndpoint(env)}/api/datasets/${loc.repo}/tree/${encodeURIComponent(loc.revision)}` + (dir ? `/${encodePath(dir)}` : '') + '?recursive=true';
  for (let page = 0; url !== undefined; page++) {
    if (page > 100_000) throw fatal(ErrorType.InvalidInput, `listing ${url} did not end after 100,000 pages.`);
    const { body, headers } = await http.getJson(url);
    if (!Array.isArray(body)) throw fatal(ErrorType.InvalidInput, `the hub's tree listing ${url} is not a JSON array.`);
    for (const e of body as TreeEntry[]) if (e && e.type === 'file' && typeof e.path === 'string') out.push(e);
    url = nextLink(headers.get('link'), url);
  }
  return out;
}

/** The `rel="next"` target of a Link header, resolved against the current URL. */
function nextLink(link: string | null, current: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return new URL(m[1]!, current).href;
  }
  return undefined;
}

interface ParquetExportFile {
  config?: string;
  split?: string;
  url?: string;
  filename?: string;
  size?: number;
}

async function listParquetExport(http: HttpStore, loc: HubLocation, env: NodeJS.ProcessEnv): Promise<HubFile[]> {
  const url = `${datasetsServerEndpoint(env)}/parquet?dataset=${encodeURIComponent(loc.repo)}`;
  const { body } = await http.getJson(url);
  const answer = (body ?? {}) as { parquet_files?: ParquetExportFile[]; partial?: boolean; pending?: unknown[]; failed?: unknown[] };
  const files = answer.parquet_files;
  if (!Array.isArray(files)) throw fatal(ErrorType.InvalidInput, `the datasets-server answer of ${url} has no parquet_files list.`);
  // An incomplete export would silently drop data: say so instead.
  const ownFiles = `read the repository's own files with hf://datasets/${loc.repo}/<path or glob> instead`;
  if (answer.partial === true) {
    throw fatal(ErrorType.InvalidInput, `the hub's Parquet export of ${loc.repo} is partial (big datasets are converted only in part): ${ownFiles}.`);
  }
  if (Array.isArray(answer.failed) && answer.failed.length > 0) {
    throw fatal(ErrorType.InvalidInput, `the hub's Parquet export of ${loc.repo} failed for ${answer.failed.length} config/split(s): ${ownFiles}.`);
  }
  if (Array.isArray(answer.pending) && answer.pending.length > 0) {
    throw retryable(`the hub's Parquet export of ${loc.repo} is still being built (${answer.pending.length} config/split(s) pending); a later retry may succeed.`);
  }
  const pattern = loc.path === '' ? undefined : loc.path;
  const matches = pattern === undefined ? () => true : GLOB_CHARS.test(pattern) ? picomatch(pattern, { dot: true }) : (p: string) => p === pattern || p.startsWith(`${pattern}/`);
  const out: HubFile[] = [];
  for (const f of files) {
    if (typeof f.url !== 'string' || typeof f.filename !== 'string') continue;
    const rel = [f.config, f.split, f.filename].filter((x) => typeof x === 'string' && x !== '').join('/');
    if (!matches(rel)) continue;
    out.push({ uri: `hf://datasets/${loc.repo}@${PARQUET_EXPORT_REVISION}/${rel}`, url: f.url, size: typeof f.size === 'number' ? f.size : 0 });
  }
  return out;
}

/**
 * The Parquet files of a hub source, sorted by name. A single file that is named exactly is
 * probed with HEAD (the tree API lists folders only).
 */
export async function listHubFiles(uri: string, http: HttpStore, env: NodeJS.ProcessEnv = process.env): Promise<HubFile[]> {
  const loc = parseHubUri(uri);
  if (loc.revision === PARQUET_EXPORT_REVISION) return (await listParquetExport(http, loc, env)).sort(byUri);
  const named = (path: string) => `hf://datasets/${loc.repo}${loc.revision === 'main' ? '' : `@${encodeURIComponent(loc.revision)}`}/${path}`;
  if (/\.parquet$/i.test(loc.path) && !GLOB_CHARS.test(loc.path)) {
    const url = resolveUrl(loc.repo, loc.revision, loc.path, env);
    const found = await http.list(url);
    return found.map((o) => ({ uri: named(loc.path), url, size: o.size }));
  }
  const glob = GLOB_CHARS.test(loc.path);
  const entries = await listTree(http, loc, glob ? staticPrefix(loc.path) : loc.path, env);
  const matches = glob ? picomatch(loc.path, { dot: true }) : (p: string) => /\.parquet$/i.test(p);
  const files = entries
    .filter((e) => matches(e.path))
    .map((e) => ({
      uri: named(e.path),
      url: resolveUrl(loc.repo, loc.revision, e.path, env),
      size: e.lfs?.size ?? e.size ?? 0,
      ...(e.lfs?.oid ?? e.oid ? { version: e.lfs?.oid ?? e.oid } : {}),
    }));
  return files.sort(byUri);
}
