/**
 * `s3://bucket/key` artifact store over @aws-sdk/client-s3 (AWS S3, MinIO, any S3-compatible server).
 *
 * Keys are taken literally (`s3://b/runs/graphviz-(dot)/a b.txt` names the key
 * `runs/graphviz-(dot)/a b.txt`, as the AWS CLI writes them); `list()` returns URIs in that form.
 * A prefix is a "directory": `list('s3://b/runs/x')` returns the object `runs/x` if there is one and
 * everything under `runs/x/`, never `runs/x-old/...`.
 *
 * Errors: missing objects and buckets -> fatal NotFound; refused credentials -> fatal AccessDenied
 * (the message points at the variables, never their values); network failures, 5xx and throttling
 * -> a retryable KilnStoreUnavailable after the SDK's own retries.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { isKilnFailure, openLocalForUpload, retryable, streamToFileAtomic } from './fileStore.js';
import { S3_PART_SIZE, S3_QUEUE_SIZE } from './s3Config.js';
import { byUri, type ArtifactStore, type ObjectInfo } from './types.js';

export interface S3Location {
  bucket: string;
  key: string;
}

/** `s3://bucket/key` -> { bucket, key } (key may be empty for a bucket-wide prefix). */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/?#]+)(?:\/(.*))?$/is.exec(uri);
  if (m === null) throw fatal(ErrorType.Unsupported, `Expected an s3://bucket/key URI, got \`${uri}\`.`);
  return { bucket: m[1]!, key: m[2] ?? '' };
}

function objectLocation(uri: string): S3Location {
  const loc = parseS3Uri(uri);
  if (loc.key === '' || loc.key.endsWith('/')) {
    throw fatal(ErrorType.InvalidInput, `${uri} names a bucket or a prefix, not an object.`);
  }
  return loc;
}

const ACCESS_CODES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidSecurity',
  'Unauthorized',
]);
const RETRY_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'OperationAborted',
  'XMinioServerNotInitialized',
]);

interface SdkErrorLike {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errors?: Array<{ code?: string; message?: string }>;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Maps an SDK error to kiln's error family. Messages are built from the error's code and status and
 * the URI only: never from request headers or the SDK's raw message for access errors.
 */
export function s3Error(err: unknown, op: string, uri: string, endpoint: string | undefined): unknown {
  if (isKilnFailure(err)) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const code = e.Code ?? e.name ?? e.code ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const where = endpoint !== undefined ? ` (endpoint ${endpoint})` : '';
  let bucket = '';
  try {
    bucket = parseS3Uri(uri).bucket;
  } catch {
    /* the URI was checked before any request */
  }

  if (e.name === 'CredentialsProviderError') {
    return fatal(
      ErrorType.AccessDenied,
      `No S3 credentials found for ${op} ${uri}: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment.`,
      { uri, code: e.name },
    );
  }
  if (code === 'NoSuchBucket') {
    return fatal(ErrorType.NotFound, `S3 bucket \`${bucket}\` does not exist${where}: ${op} ${uri}.`, { uri, bucket, code });
  }
  if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) {
    return fatal(ErrorType.NotFound, `No object at ${uri}${where}.`, { uri, code, status });
  }
  if (ACCESS_CODES.has(code) || status === 401 || status === 403) {
    return fatal(
      ErrorType.AccessDenied,
      `S3 refused ${op} on ${uri}${where}: ${code}${status !== undefined ? ` (HTTP ${status})` : ''}; ` +
        'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy.',
      { uri, code, status },
    );
  }
  const transient =
    status === undefined || status >= 500 || status === 408 || status === 409 || status === 429 || RETRY_CODES.has(code);
  if (transient) {
    const detail = describeTransient(e, code, status);
    return retryable(`S3 ${op} ${uri}${where} failed, a retry may succeed: ${detail}.`);
  }
  return fatal(ErrorType.InvalidInput, `S3 rejected ${op} on ${uri}${where}: ${code} (HTTP ${status}).`, { uri, code, status });
}

function describeTransient(e: SdkErrorLike, code: string, status: number | undefined): string {
  if (status !== undefined) return `${code} (HTTP ${status})`;
  // Network errors: `connect ECONNREFUSED 127.0.0.1:9000`; AggregateError (happy eyeballs) has no message.
  const msg = e.message || e.errors?.map((x) => x.message).find((m) => m) || '';
  const netCode = e.code ?? e.errors?.find((x) => x.code)?.code;
  return [netCode, msg].filter((s) => s).join(': ') || code;
}

export class S3Store implements ArtifactStore {
  /**
   * `endpoint` only labels messages (it is not a secret); requests go through `client`.
   * `listPageSize` caps keys per ListObjectsV2 page (default: the server's, 1000 on AWS).
   */
  constructor(
    readonly client: S3Client,
    readonly endpoint?: string,
    private readonly opts: { listPageSize?: number } = {},
  ) {}

  private fail(err: unknown, op: string, uri: string): unknown {
    return s3Error(err, op, uri, this.endpoint);
  }

  async readBytes(uri: string): Promise<Uint8Array> {
    const { bucket, key } = objectLocation(uri);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (res.Body === undefined) return new Uint8Array();
      return await res.Body.transformToByteArray();
    } catch (err) {
      throw this.fail(err, 'GetObject', uri);
    }
  }

  async writeBytes(uri: string, data: Uint8Array | string): Promise<void> {
    const { bucket, key } = objectLocation(uri);
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength }));
    } catch (err) {
      throw this.fail(err, 'PutObject', uri);
    }
  }

  async download(uri: string, localPath: string): Promise<void> {
    const { bucket, key } = objectLocation(uri);
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      throw this.fail(err, 'GetObject', uri);
    }
    const body = (res.Body as Readable | undefined) ?? Readable.from([]);
    await streamToFileAtomic(body, localPath, {
      label: uri,
      expectedBytes: res.ContentLength,
      sourceError: (err) => this.fail(err, 'GetObject', uri),
    });
  }

  async upload(localPath: string, uri: string): Promise<void> {
    const { bucket, key } = objectLocation(uri);
    // Upload buffers each part (a single PutObject below partSize), so the SDK's retries can replay it.
    const { stream } = await openLocalForUpload(localPath);
    try {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: bucket, Key: key, Body: stream },
        partSize: S3_PART_SIZE,
        queueSize: S3_QUEUE_SIZE,
        leavePartsOnError: false, // abort the multipart upload on failure: no orphaned parts
      });
      await upload.done();
    } catch (err) {
      stream.destroy();
      throw this.fail(err, 'Upload', uri);
    }
  }

  async exists(uri: string): Promise<boolean> {
    const { bucket, key } = objectLocation(uri);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (err) {
      const e = err as SdkErrorLike;
      // HEAD has no body: a missing key and a missing bucket both read 404 here.
      if (e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404) return false;
      throw this.fail(err, 'HeadObject', uri);
    }
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const { bucket, key } = parseS3Uri(prefixUri);
    const out: ObjectInfo[] = [];
    const push = (k: string | undefined, size: number | undefined) => {
      if (k !== undefined) out.push({ uri: `s3://${bucket}/${k}`, size: size ?? 0 });
    };
    try {
      if (key !== '' && !key.endsWith('/')) {
        // The object named exactly by the prefix, if any: it sorts first among keys that start with it.
        const one = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
        const first = one.Contents?.[0];
        if (first?.Key === key) push(first.Key, first.Size);
      }
      const dirPrefix = key === '' || key.endsWith('/') ? key : `${key}/`;
      let token: string | undefined;
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: dirPrefix === '' ? undefined : dirPrefix,
            ContinuationToken: token,
            MaxKeys: this.opts.listPageSize,
          }),
        );
        for (const o of page.Contents ?? []) push(o.Key, o.Size);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (err) {
      throw this.fail(err, 'ListObjectsV2', prefixUri);
    }
    return out.sort(byUri);
  }

  async move(srcUri: string, dstUri: string): Promise<void> {
    const src = objectLocation(srcUri);
    const dst = objectLocation(dstUri);
    try {
      // CopyObject copies up to 5 GB server-side; kiln's parts are far smaller.
      await this.client.send(new CopyObjectCommand({ Bucket: dst.bucket, Key: dst.key, CopySource: `${src.bucket}/${encodeURIComponent(src.key).replace(/%2F/g, '/')}` }));
    } catch (err) {
      const e = err as SdkErrorLike;
      if (e?.name === 'NoSuchKey' && (await this.exists(dstUri))) return; // moved by an earlier attempt
      throw this.fail(err, 'CopyObject', srcUri);
    }
    await this.remove(srcUri);
  }

  async remove(uri: string): Promise<void> {
    const { bucket, key } = objectLocation(uri);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      const e = err as SdkErrorLike;
      if (e?.name === 'NoSuchKey') return;
      throw this.fail(err, 'DeleteObject', uri);
    }
  }
}
