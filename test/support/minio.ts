/**
 * A real MinIO server for tests: `startMinio()` runs the MinIO binary on free localhost ports with a
 * fresh data directory and random credentials, creates a bucket, and points this process's AWS
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, KILN_S3_ENDPOINT) at it until
 * `stop()`, which restores the previous values, kills the server and removes its data.
 *
 * The binary: $KILN_MINIO_BIN, else <repo>/.kiln/bin/minio (installed by `scripts/bootstrap.sh --test`).
 * MinIO's own output (its banner prints the root credentials) is kept in memory, never printed, and
 * shown with the password redacted only when the server fails to start.
 *
 * `stopServer()` / `startAgain()` stop the process and start it again on the same port and data
 * directory: an S3 outage for retry tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export function minioBinary(): string {
  return process.env.KILN_MINIO_BIN ?? join(REPO, '.kiln', 'bin', 'minio');
}

export interface MinioServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  port: number;
  dataDir: string;
  /** The variables set in process.env while the server runs (includes the secret: tests only). */
  env: Record<string, string>;
  /** Ends the process (SIGTERM, or `signal`: SIGKILL for a crash), keeping the data directory and the environment (an outage). */
  stopServer(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again on the same port and data directory; waits until it is live. */
  startAgain(): Promise<void>;
  /** Kills the server, removes its data directory and restores process.env. */
  stop(): Promise<void>;
}

const ENV_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_PROFILE', 'KILN_S3_ENDPOINT'];
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

export async function startMinio(opts: { bucket?: string } = {}): Promise<MinioServer> {
  const bin = minioBinary();
  if (!existsSync(bin)) {
    throw new Error(`MinIO binary not found at ${bin}: run ./scripts/bootstrap.sh --test, or set KILN_MINIO_BIN.`);
  }
  installExitHook();
  const dataDir = await mkdtemp(join(tmpdir(), 'kiln-minio-'));
  const port = await freePort();
  const consolePort = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const bucket = opts.bucket ?? `kiln-test-${randomBytes(3).toString('hex')}`;
  const user = `kiln${randomBytes(6).toString('hex')}`;
  const password = randomBytes(18).toString('hex');
  let proc: ChildProcess | undefined;
  let output = '';

  const launch = async (): Promise<void> => {
    output = '';
    const child = spawn(
      bin,
      ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? tmpdir(),
          MINIO_ROOT_USER: user,
          MINIO_ROOT_PASSWORD: password,
          MINIO_BROWSER: 'off',
          MINIO_UPDATE: 'off',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    proc = child;
    live.add(child);
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      live.delete(child);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`MinIO exited during start-up:\n${redact(output, password)}`);
      try {
        const res = await fetch(`${endpoint}/minio/health/live`, { signal: AbortSignal.timeout(1_000) });
        await res.body?.cancel();
        if (res.status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`MinIO did not become live within 30 s:\n${redact(output, password)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const child = proc;
    proc = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (err) {
    await kill();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: user,
    AWS_SECRET_ACCESS_KEY: password,
    AWS_REGION: 'us-east-1',
    KILN_S3_ENDPOINT: endpoint,
  };
  const saved = new Map<string, string | undefined>(ENV_KEYS.map((k) => [k, process.env[k]]));
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  Object.assign(process.env, env);

  // The bucket, through the SDK (MinIO may need a moment after `live` before it accepts writes).
  const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: user, secretAccessKey: password } });
  try {
    for (let i = 0; ; i++) {
      try {
        await admin.send(new CreateBucketCommand({ Bucket: bucket }));
        break;
      } catch (err) {
        if (i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await kill();
    await rm(dataDir, { recursive: true, force: true });
    restore(saved);
    throw new Error(`Could not create the test bucket in MinIO: ${(err as Error).name}`, { cause: err });
  } finally {
    admin.destroy();
  }

  let stopped = false;
  return {
    endpoint,
    bucket,
    port,
    dataDir,
    env,
    stopServer: (signal?: NodeJS.Signals) => kill(signal),
    startAgain: launch,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      await rm(dataDir, { recursive: true, force: true });
      restore(saved);
    },
  };
}

function restore(saved: Map<string, string | undefined>): void {
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

function redact(text: string, secret: string): string {
  return text.split(secret).join('<redacted>');
}
