// deploy/temporal/*.sh, the scripts docker-compose's one-shots and the cluster's init container
// and Job run in the admin-tools image, run here against the real thing: the schema script with
// the pinned temporal-sql-tool on a throwaway PostgreSQL cluster (twice: every start re-runs it),
// the namespace script with the `temporal` CLI against a dev server.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { temporalBinary, waitForPort } from '../../cli/stack.js';
import { repoRoot } from '../../lib/workdirs.js';
import { freePort } from '../support/ports.js';
import { postgresBinDir, temporalSqlToolBinary } from '../support/postgresTemporal.js';
import { waitFor } from '../support/waitFor.js';

const script = (name: string) => join(repoRoot, 'deploy/temporal', name);
// The scripts call the tools by the names the admin-tools image gives them.
const toolsDir = mkdtempSync(join(tmpdir(), 'kiln-temporal-tools-'));
symlinkSync(temporalSqlToolBinary(), join(toolsDir, 'temporal-sql-tool'));
symlinkSync(temporalBinary(), join(toolsDir, 'temporal'));
const PATH = [toolsDir, process.env.PATH].join(':');
process.on('exit', () => rmSync(toolsDir, { recursive: true, force: true }));

/** `sh <script>` as the image runs it, with only the variables given (and PATH to the tools). */
function runScript(name: string, env: Record<string, string>) {
  const r = spawnSync('sh', [script(name)], { env: { PATH, HOME: tmpdir(), ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** PostgreSQL refuses root: as root, the cluster belongs to the `postgres` user Debian's package creates. */
function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const [, , uid, gid] = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))!.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

describe('deploy/temporal/setup-postgres.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-schema-script-'));
  const password = randomBytes(12).toString('hex');
  let postgres: ChildProcess | undefined;
  let port = 0;
  const pgBin = postgresBinDir();
  const env = () => ({ POSTGRES_SEEDS: '127.0.0.1', DB_PORT: String(port), POSTGRES_USER: 'temporal', SQL_PASSWORD: password });
  const version = (db: string) => execFileSync(join(pgBin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'temporal', '-d', db, '-tAc', 'SELECT curr_version FROM schema_version'], {
    env: { ...process.env, PGPASSWORD: password }, encoding: 'utf8',
  }).trim();

  before(async () => {
    if (!existsSync(temporalSqlToolBinary())) throw new Error(`${temporalSqlToolBinary()} is missing: run ./scripts/bootstrap.sh --test (it builds temporal-sql-tool).`);
    const owner = postgresOwner();
    const data = join(dir, 'pgdata');
    mkdirSync(data, { mode: 0o700 });
    writeFileSync(join(dir, 'pw'), password + '\n', { mode: 0o600 });
    if (owner) for (const p of [dir, data, join(dir, 'pw')]) chownSync(p, owner.uid, owner.gid);
    execFileSync(join(pgBin, 'initdb'), ['-D', data, '-U', 'temporal', `--pwfile=${join(dir, 'pw')}`, '--auth=scram-sha-256', '--no-sync'], { stdio: 'pipe', ...owner });
    port = await freePort();
    postgres = spawn(join(pgBin, 'postgres'), ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'], { stdio: 'ignore', ...owner });
    await waitFor('PostgreSQL accepting connections', async () => {
      execFileSync(join(pgBin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      return true;
    }, 30_000, 100);
  });
  after(() => {
    postgres?.kill('SIGINT');
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates both databases and migrates them to the release\'s schema, then finds nothing to do at the next start', () => {
    const first = runScript('setup-postgres.sh', env());
    assert.equal(first.status, 0, first.out);
    assert.match(first.out, /Temporal schemas are up to date/);
    const versions = [version('temporal'), version('temporal_visibility')];
    for (const v of versions) assert.match(v, /^1\.\d+$/, 'migrated past the 0.0 stamp');

    const second = runScript('setup-postgres.sh', env());
    assert.equal(second.status, 0, second.out);
    assert.equal(second.out.match(/found zero updates from current version/g)?.length, 2, second.out);
    assert.deepEqual([version('temporal'), version('temporal_visibility')], versions);
  });

  it('fails on a wrong password with the tool\'s own message, never printing the password', () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const r = runScript('setup-postgres.sh', { ...env(), SQL_PASSWORD: wrong });
    assert.notEqual(r.status, 0);
    assert.match(r.out, /password authentication failed/);
    assert.ok(!r.out.includes(wrong));
    const missing = runScript('setup-postgres.sh', { POSTGRES_SEEDS: '127.0.0.1', POSTGRES_USER: 'temporal' });
    assert.notEqual(missing.status, 0);
    assert.match(missing.out, /set SQL_PASSWORD to the PostgreSQL password/);
  });
});

describe('deploy/temporal/create-namespace.sh', () => {
  let server: ChildProcess | undefined;
  let address = '';

  before(async () => {
    const port = await freePort();
    server = spawn(temporalBinary(), ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'], { stdio: 'ignore' });
    address = `127.0.0.1:${port}`;
    await waitForPort(port);
  });
  after(() => {
    server?.kill('SIGTERM');
  });

  it('adds the namespace with the retention asked for, and leaves it at the next run', () => {
    const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'kiln-deploy-test', TEMPORAL_NAMESPACE_RETENTION: '5d' };
    const first = runScript('create-namespace.sh', env);
    assert.equal(first.status, 0, first.out);
    assert.match(first.out, /namespace kiln-deploy-test created/);
    const described = JSON.parse(execFileSync(temporalBinary(), ['operator', 'namespace', 'describe', '--address', address, '--namespace', 'kiln-deploy-test', '-o', 'json'], { encoding: 'utf8' })) as {
      config: { workflowExecutionRetentionTtl: string };
    };
    assert.equal(described.config.workflowExecutionRetentionTtl, `${5 * 86_400}s`);
    const second = runScript('create-namespace.sh', env);
    assert.equal(second.status, 0, second.out);
    assert.match(second.out, /namespace kiln-deploy-test exists/);
  });

  it('gives up with a message when the server never answers', () => {
    const r = runScript('create-namespace.sh', { TEMPORAL_ADDRESS: '127.0.0.1:1', ATTEMPTS: '1' });
    assert.equal(r.status, 1);
    assert.match(r.out, /Temporal at 127\.0\.0\.1:1 is not healthy after 1 tries/);
  });
});
