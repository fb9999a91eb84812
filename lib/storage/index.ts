/**
 * The artifact store: pick a store by URI scheme.
 *
 *   storeFor('s3://bucket/runs/x/_MANIFEST.json').readBytes(...)
 *   store.readBytes(uri)                  routes each call by its URI, so callers can mix schemes
 *   copyObject('https://huggingface.co/.../train.parquet', 's3://bucket/raw/train.parquet')
 *
 * Environment read: KILN_S3_ENDPOINT, AWS_REGION (S3 settings, see s3Config.ts); the AWS SDK's default
 * credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY...); HF_TOKEN and HF_ENDPOINT (httpStore.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { FileStore, fileUriToPath, pathToFileUri } from './fileStore.js';
import { HttpStore } from './httpStore.js';
import { clientKey, createS3Client, resolveS3Settings, type S3Settings } from './s3Config.js';
import { S3Store, parseS3Uri } from './s3Store.js';
import type { ArtifactStore, ObjectInfo } from './types.js';

export type { ArtifactStore, ObjectInfo } from './types.js';
export type { S3Settings } from './s3Config.js';
export { FileStore, fileUriToPath, pathToFileUri } from './fileStore.js';
export { HttpStore, type HttpStoreOptions } from './httpStore.js';
export { S3Store, parseS3Uri } from './s3Store.js';

export type ParsedUri =
  | { scheme: 'file'; path: string }
  | { scheme: 's3'; bucket: string; key: string }
  | { scheme: 'http' | 'https'; url: string };

export interface StoreOptions {
  s3?: S3Settings;
}

function unsupported(uri: string): never {
  throw fatal(ErrorType.Unsupported, `Expected a file://, s3:// or https:// URI, got \`${uri}\`.`);
}

/** Splits a URI into its scheme's parts. Unknown schemes (or none) -> fatal Unsupported. */
export function parseUri(uri: string): ParsedUri {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'file':
      return { scheme: 'file', path: fileUriToPath(uri) };
    case 's3':
      return { scheme: 's3', ...parseS3Uri(uri) };
    case 'http':
    case 'https': {
      try {
        return { scheme, url: new URL(uri).href };
      } catch {
        return unsupported(uri);
      }
    }
    default:
      return unsupported(uri);
  }
}

const fileStore = new FileStore();
const httpStore = new HttpStore();
const s3Clients = new Map<string, { client: S3Client; store: S3Store }>();

/** The store for `uri`'s scheme. S3 clients are cached per settings (and per credential environment). */
export function storeFor(uri: string, options: StoreOptions = {}): ArtifactStore {
  const parsed = parseUri(uri);
  switch (parsed.scheme) {
    case 'file':
      return fileStore;
    case 'http':
    case 'https':
      return httpStore;
    case 's3': {
      const settings = resolveS3Settings(options.s3);
      const key = clientKey(settings);
      let entry = s3Clients.get(key);
      if (entry === undefined) {
        const client = createS3Client(settings);
        entry = { client, store: new S3Store(client, settings.endpoint) };
        s3Clients.set(key, entry);
      }
      return entry.store;
    }
  }
}

/** Destroys the cached S3 clients (closing their sockets); the next call creates fresh ones. */
export function closeStores(): void {
  for (const { client } of s3Clients.values()) client.destroy();
  s3Clients.clear();
}

/** An ArtifactStore over every scheme: each call goes to the store of the URI it names. */
export const store: ArtifactStore = {
  readBytes: (uri: string) => storeFor(uri).readBytes(uri),
  writeBytes: (uri: string, data: Uint8Array | string) => storeFor(uri).writeBytes(uri, data),
  download: (uri: string, localPath: string) => storeFor(uri).download(uri, localPath),
  upload: (localPath: string, uri: string) => storeFor(uri).upload(localPath, uri),
  exists: (uri: string) => storeFor(uri).exists(uri),
  list: (prefixUri: string): Promise<ObjectInfo[]> => storeFor(prefixUri).list(prefixUri),
  remove: (uri: string) => storeFor(uri).remove(uri),
  move: (srcUri: string, dstUri: string) => storeFor(srcUri).move(srcUri, dstUri),
};

/**
 * Copies one object between any two stores (streaming through a local temporary file when neither
 * side is local). The destination is written atomically, as every store's writes are.
 */
export async function copyObject(srcUri: string, dstUri: string, options: StoreOptions = {}): Promise<void> {
  const src = parseUri(srcUri);
  const dst = parseUri(dstUri);
  const from = storeFor(srcUri, options);
  const to = storeFor(dstUri, options);
  if (dst.scheme === 'file') return from.download(srcUri, dst.path);
  if (src.scheme === 'file') return to.upload(src.path, dstUri);
  const dir = await mkdtemp(join(tmpdir(), 'kiln-copy-'));
  try {
    const tmp = join(dir, 'object');
    await from.download(srcUri, tmp);
    await to.upload(tmp, dstUri);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A local path as a `file://` URI, percent-encoded (spaces, `#`, `%`...). */
export function fileUri(path: string): string {
  return pathToFileUri(path);
}
