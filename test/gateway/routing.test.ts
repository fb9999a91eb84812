// Sticky routing by weight, route validation, and the contract's window and percentile helpers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATENCY_MS_BUCKETS, emptyBuckets, emptyVersionStats, percentileFromBuckets, subtractStats, type GatewayStats } from '../../contracts/gateway.js';
import { RequestError } from '../../gateway/errors.js';
import { hashToUnit, RouteTable, validateRoutes } from '../../gateway/routing.js';

const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function shares(table: RouteTable): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const u of users) {
    const v = table.pick(u)!.version;
    counts[v] = (counts[v] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([v, n]) => [v, n / users.length]));
}

describe('sticky routing', () => {
  const routes = [
    { version: 'v1', url: 'http://127.0.0.1:1', weight: 0.7 },
    { version: 'v2', url: 'http://127.0.0.1:2', weight: 0.25 },
    { version: 'v3', url: 'http://127.0.0.1:3', weight: 0.05 },
  ];

  it('splits 10k users by the weights (within 1.5 points) and sends each user to the same arm every time', () => {
    const table = new RouteTable();
    table.replace(validateRoutes({ routes }));
    const s = shares(table);
    for (const r of routes) assert.ok(Math.abs((s[r.version] ?? 0) - r.weight) < 0.015, `${r.version}: share ${s[r.version]} vs weight ${r.weight}`);
    const first = users.map((u) => table.pick(u)!.version);
    // Another table with the same weights (a restarted gateway) places every user identically.
    const again = new RouteTable();
    again.replace(validateRoutes({ routes: [...routes] }));
    assert.deepEqual(users.map((u) => again.pick(u)!.version), first);
    assert.deepEqual(users.map((u) => table.pick(u)!.version), first);
  });

  it('weights need not sum to 1, and a weight of 0 gets no user', () => {
    const table = new RouteTable();
    table.replace(validateRoutes({ routes: [{ version: 'a', url: 'http://x:1', weight: 3 }, { version: 'b', url: 'http://x:2', weight: 1 }, { version: 'c', url: 'http://x:3', weight: 0 }] }));
    const s = shares(table);
    assert.ok(Math.abs(s.a! - 0.75) < 0.015 && Math.abs(s.b! - 0.25) < 0.015, JSON.stringify(s));
    assert.equal(s.c, undefined);
  });

  it('an arm out of rotation moves only its own users, spread over the healthy arms', () => {
    const table = new RouteTable();
    table.replace(validateRoutes({ routes }));
    const before = users.map((u) => table.pick(u)!.version);
    table.markDown(table.byName('v2')!);
    const after = users.map((u) => table.pick(u)!.version);
    for (const [i, v] of before.entries()) {
      if (v !== 'v2') assert.equal(after[i], v, `${users[i]} moved from healthy ${v}`);
      else assert.notEqual(after[i], 'v2');
    }
    const moved = after.filter((v, i) => before[i] === 'v2');
    assert.ok(moved.filter((v) => v === 'v1').length > moved.filter((v) => v === 'v3').length * 5, 'moved users follow the remaining weights (70:5)');
  });

  it('hashes to [0, 1)', () => {
    for (const u of users.slice(0, 1000)) {
      const x = hashToUnit(u);
      assert.ok(x >= 0 && x < 1);
    }
  });
});

describe('validateRoutes', () => {
  const refuses = (body: unknown, param: string | null, message: RegExp) =>
    assert.throws(() => validateRoutes(body), (err: unknown) => err instanceof RequestError && err.status === 400 && err.param === param && message.test(err.message));

  it('names the bad field', () => {
    refuses({ routes: [{ version: 'v1', url: 'http://a:1', weight: -1 }] }, 'routes[0].weight', /must be a number >= 0, got -1/);
    refuses({ routes: [{ version: 'v1', url: 'ftp://a', weight: 1 }] }, 'routes[0].url', /http\(s\) URL/);
    refuses({ routes: [{ version: 'v1', url: 'http://a:1', weight: 1 }, { version: 'v1', url: 'http://b:1', weight: 1 }] }, 'routes[1].version', /must be unique/);
    refuses({ routes: [{ version: 'v1', url: 'http://a:1', weight: 0 }] }, 'routes', /sum to more than 0/);
    refuses({ routes: [{ version: '', url: 'http://a:1', weight: 1 }] }, 'routes[0].version', /non-empty name/);
    refuses({ routes: [{ version: 'v1', url: 'http://a:1', weight: 1, colour: 'red' }] }, 'routes[0].colour', /not a route field/);
    refuses({ routes: [{ version: 'v1', url: 'http://a:1', weight: 1 }, { version: 'v2', url: 'http://a:2', weight: 1, aliases: ['v1'] }] }, 'routes[1].aliases', /already uses/);
    refuses({ nope: [] }, 'routes', /must be an array/);
  });

  it('accepts an empty table and trims trailing slashes', () => {
    assert.deepEqual(validateRoutes({ routes: [] }), []);
    assert.equal(validateRoutes({ routes: [{ version: 'v1', url: 'http://a:1/', weight: 1 }] })[0]!.url, 'http://a:1');
  });
});

describe('stats windows and percentiles', () => {
  it('interpolates a quantile inside its bucket, as histogram_quantile does', () => {
    const b = emptyBuckets([10, 20, 40]);
    Object.assign(b, { '10': 50, '20': 90, '40': 100, '+Inf': 100 });
    assert.equal(percentileFromBuckets(b, 0.5), 10);
    assert.equal(percentileFromBuckets(b, 0.7), 15);
    assert.equal(percentileFromBuckets(b, 0.95), 30);
    assert.equal(percentileFromBuckets(emptyBuckets([10]), 0.5), undefined);
    Object.assign(b, { '+Inf': 200 });
    assert.equal(percentileFromBuckets(b, 0.99), 40, 'past the last bound: the last finite bound');
    assert.throws(() => percentileFromBuckets(b, 1), RangeError);
  });

  it('subtracts snapshots per version and language; a restart makes the later one the window', () => {
    const mk = (startedAt: number, now: number, requests: number, accepts: number): GatewayStats => {
      const v = emptyVersionStats();
      v.requests = requests;
      v.latencyMsBuckets['+Inf'] = requests;
      v.latencyMsBuckets[String(LATENCY_MS_BUCKETS[0])] = requests;
      v.byLanguage.Python = { completions: requests, views: requests, accepts, rejects: 0, acceptedChars: accepts * 10, acceptedLines: accepts };
      return { startedAt, now, versions: { v1: v } };
    };
    const w = subtractStats(mk(1, 300, 50, 20), mk(1, 100, 30, 5));
    assert.equal(w.startedAt, 100);
    assert.equal(w.versions.v1!.requests, 20);
    assert.equal(w.versions.v1!.latencyMsBuckets['+Inf'], 20);
    assert.deepEqual(w.versions.v1!.byLanguage.Python, { completions: 20, views: 20, accepts: 15, rejects: 0, acceptedChars: 150, acceptedLines: 15 });
    const restarted = subtractStats(mk(200, 300, 7, 1), mk(1, 100, 30, 5));
    assert.equal(restarted.versions.v1!.requests, 7);
  });
});
