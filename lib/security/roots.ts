/**
 * Where a worker may read and write artifacts: KILN_ALLOWED_ROOTS, a comma-separated list of
 * file:// folders and s3://bucket[/prefix] roots (relative file://./x against the worker's working
 * directory). Unset, the default is the dev artifacts folder (the schema's `file://./.kiln/artifacts`)
 * and the buckets that the configs shipped in configs/ name. Checked by the run's first activity
 * (prepareRun), so a run started by any client with `file:///etc` fails there, naming the field.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import schema from '../../configs/schema.json' with { type: 'json' };
import { ConfigError } from '../config/validate.js';
import { repoRoot } from '../workdirs.js';

type Env = Record<string, string | undefined>;

type Root = { kind: 'file'; path: string } | { kind: 's3'; bucket: string; prefix: string };

/** The bucket and key prefix of an s3:// URI; throws ConfigError(field) when it names no bucket. */
export function parseS3Uri(uri: string, field: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/.exec(uri);
  if (!m || !m[1]) throw new ConfigError(field, `must name a bucket (s3://<bucket>/<prefix>), got ${JSON.stringify(uri)}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1])) {
    throw new ConfigError(field, `must name a valid S3 bucket (3 to 63 lower-case letters, digits, '.' or '-'), got bucket ${JSON.stringify(m[1])}`);
  }
  return { bucket: m[1], prefix: m[2]!.replace(/\/+$/, '') };
}

/** The path with symlinks resolved as far as it exists (a run's folder may not exist yet). */
function realPath(path: string): string {
  if (existsSync(path)) return realpathSync(path);
  const parent = dirname(path);
  return parent === path ? path : join(realPath(parent), basename(path));
}

function parseRoot(uri: string, cwd: string, field: string): Root {
  if (uri.startsWith('s3://')) return { kind: 's3', ...parseS3Uri(uri, field) };
  // Symlinks are followed: a link inside an allowed folder that points elsewhere is refused.
  const rel = /^file:\/\/(?!\/)(.*)$/.exec(uri);
  if (rel) return { kind: 'file', path: realPath(resolve(cwd, rel[1]!)) };
  if (uri.startsWith('file:///')) return { kind: 'file', path: realPath(resolve(fileURLToPath(uri))) };
  throw new ConfigError(field, `must be a file:// or s3:// URI, got ${JSON.stringify(uri)}`);
}

/** s3://<bucket> of every config shipped in configs/ (the "embedded" production roots). */
function shippedBuckets(): string[] {
  const buckets = new Set<string>();
  for (const name of readdirSync(join(repoRoot, 'configs')).filter((f) => f.endsWith('.json') && f !== 'schema.json')) {
    try {
      const artifacts = (JSON.parse(readFileSync(join(repoRoot, 'configs', name), 'utf8')) as { artifacts?: unknown }).artifacts;
      const m = typeof artifacts === 'string' ? /^s3:\/\/([^/]+)/.exec(artifacts) : null;
      if (m) buckets.add(`s3://${m[1]}`);
    } catch {
      // a config that does not parse names no root
    }
  }
  return [...buckets];
}

/** The roots this worker may use, as URIs (for messages and logs). */
export function allowedRoots(env: Env = process.env, cwd = process.cwd()): string[] {
  const raw = env.KILN_ALLOWED_ROOTS?.trim();
  const list = raw ? raw.split(',').map((r) => r.trim()).filter(Boolean) : [schema.properties.artifacts.default, ...shippedBuckets()];
  return list.map((uri) => {
    const root = parseRoot(uri, cwd, 'KILN_ALLOWED_ROOTS');
    return root.kind === 'file' ? pathToFileURL(root.path).href : `s3://${root.bucket}${root.prefix ? `/${root.prefix}` : ''}`;
  });
}

function within(target: Root, root: Root): boolean {
  if (target.kind === 'file' && root.kind === 'file') return target.path === root.path || target.path.startsWith(root.path.endsWith(sep) ? root.path : root.path + sep);
  if (target.kind === 's3' && root.kind === 's3') {
    return target.bucket === root.bucket && (!root.prefix || target.prefix === root.prefix || target.prefix.startsWith(`${root.prefix}/`));
  }
  return false;
}

/**
 * Throws ConfigError(field) unless `uri` lies under one of the allowed roots. Paths are compared
 * after resolving `..` and symlinks, so file:///allowed/../etc and a link to /etc are refused.
 */
export function checkAllowedRoot(uri: string, field: string, env: Env = process.env, cwd = process.cwd()): void {
  const target = parseRoot(uri, cwd, field);
  const roots = allowedRoots(env, cwd);
  if (roots.some((r) => within(target, parseRoot(r, cwd, 'KILN_ALLOWED_ROOTS')))) return;
  // The allowed roots are not listed: a failure message reaches whoever started the run.
  throw new ConfigError(field, `must lie under a root the workers are allowed to use (their KILN_ALLOWED_ROOTS), got ${JSON.stringify(uri)}`);
}
