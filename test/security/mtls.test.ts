// mTLS between workers/clients and Temporal, with certificates generated here (openssl): a worker
// and a client connect through workers/connection.ts with KILN_TLS_CA / _CERT / _KEY, and a
// connection without a client certificate, or with one from another CA, is refused.
//
// The dev server (`temporal server start-dev`) has no TLS flags, so the TLS endpoint here is a
// TLS terminator in front of it that requires and verifies client certificates, NOT the
// server's own frontend TLS. What it proves is the client side: kiln's workers and clients
// present the certificates from the environment and fail without them. The real server's
// `global.tls.frontend` settings are in the README.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import { tlsFromEnv } from '../../lib/security/tls.js';
import { connectClient, connectWorker } from '../../workers/connection.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
let dir: string;
let proxy: Server;
let tlsAddress: string;
const saved = { ...process.env };

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate it signs; plus a rogue self-signed client. */
function makeCertificates(): void {
  const key = (name: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`];
  openssl('req', '-x509', ...key('ca'), '-out', 'ca.pem', '-days', '1', '-subj', '/CN=kiln test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', 'localhost'], ['client', 'kiln-worker']] as const) {
    openssl('req', ...key(name), '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
  }
  openssl('req', '-x509', ...key('rogue'), '-out', 'rogue.pem', '-days', '1', '-subj', '/CN=rogue', '-addext', 'extendedKeyUsage=clientAuth');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-mtls-'));
  makeCertificates();
  env = await startTestServer();
  const [host, port] = env.address.split(':');
  const pem = (f: string) => readFileSync(join(dir, f));
  // TLS terminator: requires a client certificate signed by the CA, then relays the gRPC stream.
  proxy = createServer({ key: pem('server.key'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] }, (socket) => {
    const upstream = netConnect(Number(port), host);
    socket.pipe(upstream).pipe(socket);
    const close = () => (socket.destroy(), upstream.destroy());
    socket.on('error', close);
    upstream.on('error', close);
  });
  proxy.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  tlsAddress = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

after(async () => {
  process.env = saved;
  proxy?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

function useTls(vars: Record<string, string | undefined>): void {
  for (const name of ['KILN_TLS_CA', 'KILN_TLS_CERT', 'KILN_TLS_KEY', 'KILN_TLS_SERVER_NAME', 'TEMPORAL_TLS_CA', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY']) delete process.env[name];
  Object.assign(process.env, vars);
}

describe('mTLS to Temporal', () => {
  it('reads the certificates from the environment, as paths or PEM text', () => {
    assert.equal(tlsFromEnv({}), undefined);
    const fromPaths = tlsFromEnv({ KILN_TLS_CA: join(dir, 'ca.pem'), KILN_TLS_CERT: join(dir, 'client.pem'), KILN_TLS_KEY: join(dir, 'client.key') });
    const fromPem = tlsFromEnv({ TEMPORAL_TLS_CA: readFileSync(join(dir, 'ca.pem'), 'utf8'), KILN_TLS_CERT: readFileSync(join(dir, 'client.pem'), 'utf8'), KILN_TLS_KEY: join(dir, 'client.key') });
    assert.deepEqual(fromPem, fromPaths);
    assert.throws(() => tlsFromEnv({ KILN_TLS_CERT: join(dir, 'client.pem') }), /KILN_TLS_CERT and KILN_TLS_KEY to be set together/);
    assert.throws(() => tlsFromEnv({ KILN_TLS_CA: join(dir, 'missing.pem') }), /KILN_TLS_CA to be PEM text or the path of a PEM file, got `.*missing\.pem`/);
  });

  it('connects a worker and a client with the client certificate, and they run a workflow', async () => {
    useTls({ KILN_TLS_CA: join(dir, 'ca.pem'), KILN_TLS_CERT: join(dir, 'client.pem'), KILN_TLS_KEY: join(dir, 'client.key') });
    const connection = await connectWorker(tlsAddress);
    const client = await connectClient(tlsAddress);
    try {
      const worker = await Worker.create({ connection, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle() });
      // The cheapest workflow task: llmPipeline's validation refuses the config, on the worker, over mTLS.
      const err = await worker.runUntil(async () => {
        const handle = await client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: 'mtls-1', args: [{ name: 'mtls', train: { steps: 0 } }] });
        return handle.result().then(() => undefined, (e: unknown) => e);
      });
      assert.ok(err instanceof WorkflowFailedError, String(err));
      assert.match(err.cause!.message, /`train\.steps` must be >= 1/);
    } finally {
      await client.connection.close();
      await connection.close();
    }
  });

  it('refuses a connection without a client certificate, or with one from another CA', async () => {
    useTls({ KILN_TLS_CA: join(dir, 'ca.pem') });
    const noCert = async () => {
      const c = await connectClient(tlsAddress);
      try {
        await c.workflowService.getSystemInfo({});
      } finally {
        await c.connection.close();
      }
    };
    await assert.rejects(noCert(), 'the client without a certificate');
    await assert.rejects(connectWorker(tlsAddress), 'the worker without a certificate');
    useTls({ KILN_TLS_CA: join(dir, 'ca.pem'), KILN_TLS_CERT: join(dir, 'rogue.pem'), KILN_TLS_KEY: join(dir, 'rogue.key') });
    await assert.rejects(noCert(), 'the client with a certificate from another CA');
    await assert.rejects(connectWorker(tlsAddress), 'the worker with a certificate from another CA');
  });
});
