/**
 * S3 client settings. Only the *where* is configurable (endpoint, region, path style): the *who*
 * (credentials) always comes from the AWS SDK's default provider chain, i.e. AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment for kiln's deployments. No
 * function here accepts credentials, and nothing here logs or formats them.
 *
 * Environment read:
 *   KILN_S3_ENDPOINT  endpoint URL of an S3-compatible server (MinIO...); unset = AWS's own endpoints
 *   AWS_REGION        region when the settings name none (default us-east-1)
 *   (the SDK itself also reads AWS_* variables, e.g. AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED
 *   for S3-compatible servers that predate the flexible-checksum defaults)
 */
import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { ErrorType, fatal } from '../../contracts/errors.js';

export interface S3Settings {
  /** e.g. `http://127.0.0.1:9000` for MinIO. Default: env KILN_S3_ENDPOINT, else AWS's endpoints. */
  endpoint?: string;
  /** Default: env AWS_REGION, else `us-east-1`. */
  region?: string;
  /** Bucket in the path (`host/bucket/key`) rather than the host name. Default true (MinIO-friendly). */
  forcePathStyle?: boolean;
}

export interface ResolvedS3Settings {
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
}

/** SDK attempts per request (the first try included) before an error reaches the caller. */
export const S3_MAX_ATTEMPTS = 3;
/** Multipart upload geometry (@aws-sdk/lib-storage `Upload`). */
export const S3_PART_SIZE = 8 * 1024 * 1024;
export const S3_QUEUE_SIZE = 4;

export function resolveS3Settings(settings: S3Settings = {}, env: NodeJS.ProcessEnv = process.env): ResolvedS3Settings {
  const endpoint = nonEmpty(settings.endpoint) ?? nonEmpty(env.KILN_S3_ENDPOINT);
  if (endpoint !== undefined) checkEndpoint(endpoint);
  return {
    endpoint: endpoint?.replace(/\/+$/, ''),
    region: nonEmpty(settings.region) ?? nonEmpty(env.AWS_REGION) ?? 'us-east-1',
    forcePathStyle: settings.forcePathStyle ?? true,
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw fatal(ErrorType.InvalidConfig, `The S3 endpoint must be an http:// or https:// URL (KILN_S3_ENDPOINT), got \`${endpoint}\`.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fatal(ErrorType.InvalidConfig, `The S3 endpoint must be an http:// or https:// URL (KILN_S3_ENDPOINT), got \`${endpoint}\`.`);
  }
  if (url.username !== '' || url.password !== '') {
    // Never echo it: the user part may be a credential.
    throw fatal(
      ErrorType.InvalidConfig,
      'The S3 endpoint must not embed credentials; set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment instead.',
    );
  }
}

/**
 * A key identifying a client: the settings plus a digest of the environment's credential variables,
 * so that a process whose environment changes (tests, a rotated key) gets a fresh client instead of
 * one holding cached credentials. Only a SHA-256 digest of the credentials is kept, never the values.
 */
export function clientKey(settings: ResolvedS3Settings, env: NodeJS.ProcessEnv = process.env): string {
  const creds = createHash('sha256')
    .update([env.AWS_ACCESS_KEY_ID ?? '', env.AWS_SECRET_ACCESS_KEY ?? '', env.AWS_SESSION_TOKEN ?? '', env.AWS_PROFILE ?? ''].join('\0'))
    .digest('hex');
  return JSON.stringify([settings.endpoint ?? '', settings.region, settings.forcePathStyle, creds]);
}

export function createS3Client(settings: ResolvedS3Settings): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    maxAttempts: S3_MAX_ATTEMPTS,
    // Fail fast on a dead endpoint (the SDK then retries); no overall request timeout, since large
    // objects stream for as long as they need (Temporal's activity timeouts bound the whole call).
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 120_000 },
    // No `credentials`: the SDK's default chain reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    // No `logger`: the SDK's default logger is silent, so requests are never logged.
  });
}
