// The dev stack's gateway as `kiln up` starts it and `kiln run` reads it: keys made once per home
// (0600, never printed), the workers' environment, and the summary's streamed and FIM completions.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { devGatewayAccess, devGatewayEnv, devGatewaySecrets } from '../../cli/devGateway.js';
import { gatewaySummary } from '../../cli/gatewaySummary.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
import { loadKeys } from '../../gateway/auth.js';
import { Gateway } from '../../gateway/server.js';
import { startFakeEngine, type FakeEngine } from './fakeEngine.js';

describe('dev stack gateway', () => {
  const home = mkdtempSync(join(tmpdir(), 'kiln-home-'));
  let gateway: Gateway;
  let engine: FakeEngine;

  before(async () => {
    engine = await startFakeEngine('tiny');
    const env = devGatewayEnv(home, 'http://placeholder', {});
    gateway = new Gateway({ keys: loadKeys(env.gateway), log: () => undefined, healthIntervalMs: 60_000 });
    const url = await gateway.listen();
    writeFileSync(join(home, 'stack.json'), JSON.stringify({ gatewayUrl: url }));
  });

  after(async () => {
    await gateway.close();
    await engine.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('makes the keys once, readable by the owner only, and gives the workers the URL and admin key', () => {
    const s = devGatewaySecrets(home);
    assert.deepEqual(devGatewaySecrets(home), s);
    assert.equal(statSync(join(home, 'gateway', 'secrets.json')).mode & 0o077, 0);
    const env = devGatewayEnv(home, 'http://127.0.0.1:8400', { KILN_GATEWAY_KEYS: 'editor:sk-editor-key-1' });
    assert.equal(env.gateway.KILN_GATEWAY_KEYS, `editor:sk-editor-key-1,dev:${s.clientKey}`);
    assert.deepEqual(env.workers, { KILN_GATEWAY_URL: 'http://127.0.0.1:8400', KILN_GATEWAY_ADMIN_KEY: s.adminKey });
  });

  it('keeps its routes across a restart in the state file', async () => {
    const stateFile = join(home, 'routes.json');
    const keys = loadKeys({ KILN_GATEWAY_KEYS: 'c:sk-client-state-1', KILN_GATEWAY_ADMIN_KEY: 'sk-admin-state-1' });
    const first = new Gateway({ keys, stateFile, log: () => undefined, healthIntervalMs: 60_000 });
    const put = await fetch(`${await first.listen()}/admin/routes`, {
      method: 'PUT',
      headers: { authorization: 'Bearer sk-admin-state-1' },
      body: JSON.stringify({ routes: [{ version: 'v7', url: engine.url, weight: 1, aliases: ['production'] }] }),
    });
    assert.equal(put.status, 200);
    await first.close();
    const second = new Gateway({ keys, stateFile, routes: [{ version: 'other', url: engine.url, weight: 1 }], log: () => undefined, healthIntervalMs: 60_000 });
    assert.deepEqual(second.table.status(), [{ version: 'v7', url: engine.url, weight: 1, aliases: ['production'], healthy: true }]);
  });

  it("routes the run's deployment and shows a streamed and a FIM completion through the gateway", async () => {
    const saved = process.env.KILN_HOME;
    process.env.KILN_HOME = home;
    try {
      assert.equal(devGatewayAccess()?.url, gateway.url);
      const result = { deployment: { endpoint: engine.url, modelVersion: 'abc123', model: 'tiny' } } as PipelineResult;
      const lines = await gatewaySummary(result, 'def f(', true);
      assert.match(lines[0]!, /gateway +http:\/\/127\.0\.0\.1:\d+\/v1\/completions \(version abc123, 1 route\(s\)/);
      assert.match(lines[1]!, /streamed +"def f\(x\): return" \(5 chunks/);
      assert.match(lines[2]!, /FIM +"def f\(x\): return" between/);
      assert.deepEqual(engine.bodies.at(-1), { prompt: 'def add(a, b):\n    ', suffix: '\n    return result\n', max_tokens: 16, temperature: 0, model: 'tiny' });
      for (const line of lines) assert.ok(!line.includes(devGatewaySecrets(home).clientKey) && !line.includes(devGatewaySecrets(home).adminKey));
      const off = await gatewaySummary({ deployment: { endpoint: 'http://127.0.0.1:9', modelVersion: 'zzz' } } as PipelineResult, 'x', false);
      assert.match(off[0]!, /zzz is not routed \(gateway.register is false\)/);
    } finally {
      if (saved === undefined) delete process.env.KILN_HOME;
      else process.env.KILN_HOME = saved;
    }
  });
});
