/**
 * The production shape of the Temporal server for tests: `temporal-server` (go.temporal.io/server,
 * built by `scripts/bootstrap.sh --test`) on a throwaway PostgreSQL cluster (Debian's postgresql),
 * with the Temporal UI server beside it. `startPostgresTemporal()` initialises a cluster in a temp
 * folder on a free port, creates the `temporal` and `temporal_visibility` databases and their
 * schemas with temporal-sql-tool (the schemas embedded in the tool, as the server's release ships
 * them), writes a single-node server config, starts the server, registers the `default`
 * namespace and kiln's search attributes, and returns its address.
 *
 * `restart()` kills the server with SIGKILL and starts it again on the same database (chaos);
 * `stop()` stops everything and removes the folder.
 *
 * Binaries: $KILN_TEMPORAL_SERVER_BIN, $KILN_TEMPORAL_SQL_TOOL_BIN, $KILN_TEMPORAL_UI_BIN, else
 * <repo>/.kiln/bin/temporal-{server,sql-tool,ui-server}; PostgreSQL from $KILN_PG_BIN, else the
 * newest /usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run as root: as root, the
 * cluster belongs to the `postgres` user the Debian package creates, and its programs run as it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { stringify } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../contracts/workflows.js';
import { repoRoot } from '../../lib/workdirs.js';
import { ensureSearchAttributes } from '../../workers/searchAttributes.js';
import { waitForPort } from '../../cli/stack.js';
import { freePort } from './ports.js';
import { waitFor } from './waitFor.js';

const bin = (env: string, name: string) => process.env[env] ?? join(repoRoot, '.kiln', 'bin', name);
export const temporalServerBinary = () => bin('KILN_TEMPORAL_SERVER_BIN', 'temporal-server');
export const temporalSqlToolBinary = () => bin('KILN_TEMPORAL_SQL_TOOL_BIN', 'temporal-sql-tool');
export const temporalUiBinary = () => bin('KILN_TEMPORAL_UI_BIN', 'temporal-ui-server');

/** Debian installs each major version under /usr/lib/postgresql/<major>/bin, none on PATH. */
export function postgresBinDir(): string {
  if (process.env.KILN_PG_BIN) return process.env.KILN_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error(`PostgreSQL not found under ${root}: run ./scripts/bootstrap.sh --test (it installs Debian's postgresql), or set KILN_PG_BIN.`);
  return join(root, versions[0]!, 'bin');
}

export interface PostgresTemporal {
  /** host:port of the frontend (gRPC). */
  address: string;
  namespace: string;
  /** The Temporal UI server pointed at this server (when started with `ui: true`). */
  uiUrl?: string;
  /** Where the cluster, the config and the logs live. */
  dir: string;
  /** SIGKILL of the server, then the same server started again on the same database; resolves when it serves again. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** SIGKILL of the server only (a crash); `startAgain()` brings it back. */
  kill(): Promise<void>;
  startAgain(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** The uid/gid PostgreSQL's programs run as: ours, or the `postgres` user's when we are root. */
function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as (it refuses root): install Debian\'s postgresql (./scripts/bootstrap.sh --test).');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function spawnLogged(file: string, args: string[], log: string, opts: { env?: Record<string, string>; owner?: { uid: number; gid: number }; cwd?: string } = {}): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(file, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...opts.env }, stdio: ['ignore', fd, fd], cwd: opts.cwd, ...opts.owner });
  closeSync(fd);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

async function kill(child: ChildProcess | undefined, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** A free port in [20000, 32768). */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '');

/**
 * @param opts.frontendIp the address the frontend's gRPC listens on (default: loopback only);
 *   `0.0.0.0` lets workers in another network namespace reach it (the partition test).
 */
export async function startPostgresTemporal(opts: { ui?: boolean; frontendIp?: string } = {}): Promise<PostgresTemporal> {
  for (const b of [temporalServerBinary(), temporalSqlToolBinary(), ...(opts.ui ? [temporalUiBinary()] : [])]) {
    if (!existsSync(b)) throw new Error(`${b} is missing: run ./scripts/bootstrap.sh --test (it builds the Temporal server, its SQL tool and the UI server).`);
  }
  const pgBin = postgresBinDir();
  const owner = postgresOwner();
  const dir = mkdtempSync(join(tmpdir(), 'kiln-pg-temporal-'));
  const pgData = join(dir, 'pgdata');
  mkdirSync(pgData, { mode: 0o700 });
  const password = randomBytes(12).toString('hex');
  const pwFile = join(dir, 'pgpass');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  if (owner) for (const p of [dir, pgData, pwFile]) chownSync(p, owner.uid, owner.gid);

  let postgres: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  let ui: ChildProcess | undefined;
  const stopAll = async () => {
    await kill(ui, 'SIGTERM');
    await kill(server, 'SIGTERM');
    await kill(postgres, 'SIGINT'); // PostgreSQL's "fast" shutdown
  };

  try {
    // 1. The cluster: password auth (scram) for the `temporal` superuser, TCP on localhost only.
    //    fsync off: the database outlives the Temporal server in these tests, never the machine.
    execFileSync(join(pgBin, 'initdb'), ['-D', pgData, '-U', 'temporal', `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-sync'], { stdio: 'pipe', ...owner });
    rmSync(pwFile);
    const pgPort = await freePort();
    postgres = spawnLogged(join(pgBin, 'postgres'), ['-D', pgData, '-p', String(pgPort), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'max_connections=200'], join(dir, 'postgres.log'), { owner });
    await waitForPort(pgPort, '127.0.0.1', 30_000);
    await waitFor('PostgreSQL accepting connections', async () => {
      execFileSync(join(pgBin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'temporal'], { stdio: 'ignore' });
      return true;
    }, 30_000, 100);

    // 2. Databases and schemas, the way Temporal's own set-up does it: create, version table at
    //    0.0, then every versioned step up to the release's schema. The password travels in the
    //    environment (SQL_PASSWORD), not on a command line.
    const sqlEnv = { SQL_PLUGIN: 'postgres12', SQL_HOST: '127.0.0.1', SQL_PORT: String(pgPort), SQL_USER: 'temporal', SQL_PASSWORD: password };
    for (const [db, schema] of [['temporal', 'postgresql/v12/temporal'], ['temporal_visibility', 'postgresql/v12/visibility']] as const) {
      const env = { ...process.env, ...sqlEnv, SQL_DATABASE: db };
      for (const args of [['create-database'], ['setup-schema', '-v', '0.0'], ['update-schema', '--schema-name', schema]]) {
        try {
          execFileSync(temporalSqlToolBinary(), args, { env, stdio: 'pipe' });
        } catch (err) {
          const e = err as { stderr?: Buffer; stdout?: Buffer };
          throw new Error(`temporal-sql-tool ${args.join(' ')} (${db}) failed:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`, { cause: err });
        }
      }
    }

    // 3. A single-node server config (all four services in one process), every port free.
    //    Membership ports go into a smallint column (cluster_membership.rpc_port): below 32768,
    //    where the OS's own free ports (the ephemeral range) are not.
    const ports = Object.fromEntries(await Promise.all(['frontend', 'frontendHttp', 'history', 'matching', 'worker'].map(async (k) => [k, await freePort()] as const)));
    for (const k of ['frontendMembership', 'historyMembership', 'matchingMembership', 'workerMembership']) ports[k] = await freeLowPort(new Set(Object.values(ports)));
    const address = `127.0.0.1:${ports.frontend}`;
    const dynamicConfig = join(dir, 'dynamicconfig.yaml');
    writeFileSync(dynamicConfig, stringify({
      // A namespace registered here is served within a second, not after the 10 s default.
      'system.namespaceCacheRefreshInterval': [{ value: '1s' }],
      // Search attributes added at start-up are usable at once (the dev server does the same).
      'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true }],
      'limit.maxIDLength': [{ value: 255 }],
    }));
    const store = (database: string, maxConns: number) => ({
      sql: { pluginName: 'postgres12', databaseName: database, connectAddr: `127.0.0.1:${pgPort}`, connectProtocol: 'tcp', user: 'temporal', password, maxConns, maxIdleConns: maxConns, maxConnLifetime: '1h' },
    });
    const rpc = (grpc: number, membership: number) => ({ rpc: { grpcPort: grpc, membershipPort: membership, bindOnLocalHost: true } });
    const configFile = join(dir, 'temporal.yaml');
    writeFileSync(configFile, stringify({
      log: { stdout: true, level: 'warn' },
      persistence: { defaultStore: 'default', visibilityStore: 'visibility', numHistoryShards: 4, datastores: { default: store('temporal', 20), visibility: store('temporal_visibility', 4) } },
      global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
      services: {
        frontend: {
          rpc: opts.frontendIp
            ? { grpcPort: ports.frontend, membershipPort: ports.frontendMembership, bindOnIP: opts.frontendIp, httpPort: ports.frontendHttp }
            : { ...rpc(ports.frontend!, ports.frontendMembership!).rpc, httpPort: ports.frontendHttp },
        },
        history: rpc(ports.history!, ports.historyMembership!),
        matching: rpc(ports.matching!, ports.matchingMembership!),
        worker: rpc(ports.worker!, ports.workerMembership!),
      },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: address } },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      dynamicConfigClient: { filepath: dynamicConfig, pollInterval: '10s' },
    }), { mode: 0o600 }); // it holds the database password

    const serverLog = join(dir, 'temporal-server.log');
    const launch = async () => {
      server = spawnLogged(temporalServerBinary(), ['--config-file', configFile, '--allow-no-auth', 'start'], serverLog);
      const started = server;
      let exited = false;
      started.once('exit', () => (exited = true));
      await waitFor('the Temporal server serving', async () => {
        if (exited) return true;
        const conn = await Connection.connect({ address, connectTimeout: 2_000 });
        try {
          await conn.workflowService.getSystemInfo({});
          return true;
        } finally {
          await conn.close();
        }
      }, 120_000, 250).catch((err: Error) => {
        throw new Error(`temporal-server did not come up (${err.message}); its log:\n${tail(serverLog)}`);
      });
      if (exited) throw new Error(`temporal-server exited during start-up; its log:\n${tail(serverLog)}`);
    };
    await launch();

    // 4. The `default` namespace (a production server has none until an operator adds it) and
    //    kiln's search attributes, before any worker starts.
    const connection = await Connection.connect({ address });
    try {
      await connection.workflowService.registerNamespace({ namespace: 'default', workflowExecutionRetentionPeriod: msToTs('3 days') }).catch((err: Error) => {
        if (!/already exists/i.test(err.message)) throw err;
      });
      const client = new Client({ connection, namespace: 'default' });
      await waitFor('the default namespace served', async () => {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        await client.workflow.list({ pageSize: 1 })[Symbol.asyncIterator]().next();
        return true;
      }, 60_000, 250);
      await ensureSearchAttributes(client, 'default');
      await waitFor('kiln\'s search attributes registered', async () => {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        return SEARCH_ATTRIBUTES.every((a) => customAttributes?.[a.name]);
      }, 60_000, 250);
    } finally {
      await connection.close();
    }

    // 5. The UI server (github.com/temporalio/ui-server), its config in <dir>/ui/kiln.yaml.
    let uiUrl: string | undefined;
    if (opts.ui) {
      const uiPort = await freePort();
      mkdirSync(join(dir, 'ui'));
      writeFileSync(join(dir, 'ui', 'kiln.yaml'), stringify({ temporalGrpcAddress: address, port: uiPort, enableUi: true, defaultNamespace: 'default', disableNewsFetch: true, cors: { allowOrigins: [`http://localhost:${uiPort}`] } }));
      ui = spawnLogged(temporalUiBinary(), ['--root', dir, '--config', 'ui', '--env', 'kiln', 'start'], join(dir, 'ui-server.log'));
      await waitForPort(uiPort, '127.0.0.1', 60_000).catch((err: Error) => {
        throw new Error(`the Temporal UI server did not start (${err.message}); its log:\n${tail(join(dir, 'ui-server.log'))}`);
      });
      uiUrl = `http://localhost:${uiPort}`;
    }

    const killServer = () => kill(server, 'SIGKILL');
    let stopped = false;
    return {
      address,
      namespace: 'default',
      uiUrl,
      dir,
      kill: killServer,
      startAgain: launch,
      async restart({ downMs = 0 } = {}) {
        await killServer();
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        await launch();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
