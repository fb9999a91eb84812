// An engine that takes a request and never answers: the client gets a 504 after the gateway's
// deadline, the engine stays in rotation (slow is not dead), and the version counts an error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadKeys } from '../../gateway/auth.js';
import { Gateway } from '../../gateway/server.js';
import { startFakeEngine, type FakeEngine } from './fakeEngine.js';

describe('gateway deadlines', () => {
  let engine: FakeEngine;
  let gateway: Gateway;
  let url = '';

  before(async () => {
    engine = await startFakeEngine('tiny');
    engine.hang = true;
    gateway = new Gateway({ keys: loadKeys({ KILN_GATEWAY_KEYS: 'c:sk-client-timeout-1' }), routes: [{ version: 'v1', url: engine.url, weight: 1 }], requestTimeoutMs: 300, healthIntervalMs: 60_000, log: () => undefined });
    url = await gateway.listen();
  });

  after(async () => {
    await gateway.close();
    await engine.stop();
  });

  it('answers 504 when the engine does not answer in time, and keeps the engine in rotation', async () => {
    const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { authorization: 'Bearer sk-client-timeout-1' }, body: '{"prompt":"x"}' });
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'engine_timeout');
    assert.equal(gateway.table.list()[0]!.healthy, true);
    const v1 = gateway.metrics.snapshot().versions.v1!;
    assert.deepEqual([v1.requests, v1.errors], [1, 1]);
    assert.match(await gateway.metrics.registry.metrics(), /kiln_gateway_in_flight_requests\{version="v1"\} 0/);
  });
});
