// activities/gateway.ts: a deployed endpoint joins the gateway's routes (first at weight 1, later
// ones at 0, a redeploy keeps its weight); a wrong admin key is fatal, an unreachable gateway transient.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { registerDeployment, withDeployment } from '../../activities/gateway.js';
import { ErrorType } from '../../contracts/errors.js';
import { GatewayEnv } from '../../contracts/gateway.js';
import { loadKeys } from '../../gateway/auth.js';
import { Gateway } from '../../gateway/server.js';
import { freePort } from '../../lib/ports.js';

const ADMIN = 'sk-admin-register-test-1';

describe('registerDeployment', () => {
  let gateway: Gateway;
  const saved = { url: process.env[GatewayEnv.url], admin: process.env[GatewayEnv.adminKey] };

  before(async () => {
    gateway = new Gateway({ keys: loadKeys({ KILN_GATEWAY_KEYS: 'c:sk-client-register-1', KILN_GATEWAY_ADMIN_KEY: ADMIN }), healthIntervalMs: 60_000, log: () => undefined });
    process.env[GatewayEnv.url] = await gateway.listen();
    process.env[GatewayEnv.adminKey] = ADMIN;
  });

  after(async () => {
    await gateway.close();
    for (const [k, v] of [[GatewayEnv.url, saved.url], [GatewayEnv.adminKey, saved.admin]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('adds the first version at weight 1, the next at 0, and a redeploy keeps its weight', async () => {
    await registerDeployment({ version: 'a1', endpoint: 'http://127.0.0.1:1' });
    await registerDeployment({ version: 'b2', endpoint: 'http://127.0.0.1:2' });
    const r = await registerDeployment({ version: 'a1', endpoint: 'http://127.0.0.1:3' });
    assert.deepEqual(r.routes, [
      { version: 'a1', url: 'http://127.0.0.1:3', weight: 1 },
      { version: 'b2', url: 'http://127.0.0.1:2', weight: 0 },
    ]);
    assert.deepEqual(gateway.table.status().map((x) => [x.version, x.url, x.weight]), [['a1', 'http://127.0.0.1:3', 1], ['b2', 'http://127.0.0.1:2', 0]]);
  });

  it('keeps aliases and drops the read-only `healthy` when it rewrites the routes', () => {
    const next = withDeployment([{ version: 'a', url: 'http://x:1', weight: 1, aliases: ['production'], healthy: false } as never], 'b', 'http://x:2');
    assert.deepEqual(next, [{ version: 'a', url: 'http://x:1', weight: 1, aliases: ['production'] }, { version: 'b', url: 'http://x:2', weight: 0 }]);
  });

  it('fails for good on a wrong admin key, and transiently when the gateway is unreachable', async () => {
    process.env[GatewayEnv.adminKey] = 'sk-wrong-admin-key';
    await assert.rejects(registerDeployment({ version: 'c3', endpoint: 'http://127.0.0.1:4' }), (err: unknown) => err instanceof ApplicationFailure && err.type === ErrorType.AccessDenied && err.nonRetryable === true && !err.message.includes('sk-wrong'));
    process.env[GatewayEnv.adminKey] = ADMIN;
    const url = process.env[GatewayEnv.url];
    process.env[GatewayEnv.url] = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(registerDeployment({ version: 'c3', endpoint: 'http://127.0.0.1:4' }), (err: unknown) => err instanceof ApplicationFailure && err.type === ErrorType.ServiceUnavailable && err.nonRetryable === false);
    process.env[GatewayEnv.url] = url;
  });

  it('does nothing without a gateway', async () => {
    const url = process.env[GatewayEnv.url];
    delete process.env[GatewayEnv.url];
    assert.deepEqual(await registerDeployment({ version: 'z', endpoint: 'http://127.0.0.1:5' }), { routes: [] });
    process.env[GatewayEnv.url] = url;
  });
});
