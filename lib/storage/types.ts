/**
 * One interface over every place artifacts live. URIs name objects:
 *   file:///abs/path/to/object     local directory tree (dev default)
 *   s3://bucket/key/of/object      any S3-compatible server (AWS, MinIO), via @aws-sdk/client-s3
 *   https://host/path              read-only (e.g. a Hugging Face hub `resolve/main/...` URL)
 * A "directory" is a URI prefix; listing is recursive. Credentials come from the environment only
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), never from configs or payloads.
 */
export interface ObjectInfo {
  uri: string;
  size: number;
}

/** Orders by URI, code unit by code unit (the order of `list()` and of every listing kiln writes). */
export function byUri(a: { uri: string }, b: { uri: string }): number {
  return a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0;
}

export interface ArtifactStore {
  /** Whole object in memory. Throws fatal NotFound when missing. */
  readBytes(uri: string): Promise<Uint8Array>;
  /** Writes an object atomically (readers never see a partial object). */
  writeBytes(uri: string, data: Uint8Array | string): Promise<void>;
  /** Copies an object to a local file (streams; for large objects). */
  download(uri: string, localPath: string): Promise<void>;
  /** Uploads a local file (multipart for large files on S3). */
  upload(localPath: string, uri: string): Promise<void>;
  exists(uri: string): Promise<boolean>;
  /** Objects under a prefix, recursively, sorted by URI. Empty when none. */
  list(prefixUri: string): Promise<ObjectInfo[]>;
  /** Removes one object; no error when it is already gone. */
  remove(uri: string): Promise<void>;
  /**
   * Moves an object to another URI of the same store (a rename on disk, a server-side copy and
   * delete on S3): how a stage commits a part written under `_work/` into its final name. A retry
   * after a move that finished finds the source gone and the destination in place, and succeeds.
   */
  move(srcUri: string, dstUri: string): Promise<void>;
}
