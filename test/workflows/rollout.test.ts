// modelRollout end to end on real parts: a real Temporal dev server, the real gateway
// (`kiln gateway`, its own process) in front of three minimal OpenAI-shaped engines, the registry
// on file://, and the seeded simulated users. The engines are test/gateway/fakeEngine.ts rather
// than tiny-model engines: the rollout only reads what the gateway counts, and a few thousand
// generations per run on 2 shared cores would take minutes where the fake answers in microseconds.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createRolloutActivities } from '../../activities/rollout/index.js';
import type { GatewayRouteStatus, GatewayStats } from '../../contracts/gateway.js';
import { promoteSignal, rollbackSignal, rolloutStatusQuery, type LanguageComparison, type RolloutInput, type RolloutResult, type RolloutStatus } from '../../contracts/rollout.js';
import { pauseSignal, TASK_QUEUES } from '../../contracts/workflows.js';
import { ErrorType } from '../../contracts/errors.js';
import { getGatewayStats, setGatewayRoutes } from '../../activities/rollout/gateway.js';
import { getAliases, getVersion, registerVersion, setAliases } from '../../lib/registry/registry.js';
import { wilsonInterval } from '../../lib/rollout/stats.js';
import { simulateUsers, type SimulationResult } from '../../lib/simulate/users.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { startFakeEngine, type FakeEngine } from '../gateway/fakeEngine.js';
import { recordHistory } from '../support/histories.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';

const CLIENT_KEY = 'sk-sim-4b1d9e7f2c6a8035';
const ADMIN_KEY = 'sk-admin-9c2e5a7b1d3f4068';
const MODEL = 'tiny-code';

/** The simulated truth: p(accept | viewed) per version and language. */
const P: Record<string, Record<string, number>> = {
  v1: { Python: 0.3, Go: 0.35, TypeScript: 0.25 },
  v2: { Python: 0.6, Go: 0.65, TypeScript: 0.55 }, // better everywhere
  v3: { Python: 0.1, Go: 0.35, TypeScript: 0.1 }, // worse than v2 everywhere, most in Python and TypeScript
};

const evalScores = (python: number, go: number) => ({ languages: { python: { passAtK: { 'pass@1': python }, problems: 164 }, go: { passAtK: { 'pass@1': go }, problems: 154 } } });

describe('modelRollout (Temporal, kiln gateway, simulated users)', () => {
  let env: TestWorkflowEnvironment;
  let engines: Record<string, FakeEngine>;
  let gw: ChildProcess;
  let gatewayUrl = '';
  let dir: string;
  let root: string;
  const tally: SimulationResult[] = [];
  const savedAdminKey = process.env.KILN_GATEWAY_ADMIN_KEY;

  const admin = async <T>(method: string, path: string): Promise<T> => {
    const res = await fetch(gatewayUrl + path, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    return (await res.json()) as T;
  };

  before(async () => {
    env = await startTestServer();
    engines = { v1: await startFakeEngine('tiny'), v2: await startFakeEngine('tiny'), v3: await startFakeEngine('tiny'), v4: await startFakeEngine('tiny') };
    dir = mkdtempSync(join(tmpdir(), 'kiln-rollout-'));
    root = fileUri(join(dir, 'artifacts'));
    const lineage = (run: string) => ({ pipelineRunId: run, dataManifests: [{ stage: 'dedup', uri: `${root}/stages/dedup/abc/_MANIFEST.json`, fingerprint: 'abc' }] });
    const scores: Record<string, ReturnType<typeof evalScores>> = { v1: evalScores(0.2, 0.1), v2: evalScores(0.25, 0.12), v3: evalScores(0.25, 0.12), v4: evalScores(0.1, 0.12) };
    for (const v of ['v1', 'v2', 'v3', 'v4']) {
      await registerVersion(root, { name: MODEL, version: v, modelUri: `${root}/models/${v}`, lineage: lineage(`run-${v}`), eval: scores[v], deployments: [{ at: '2026-01-01T00:00:00.000Z', endpoint: engines[v]!.url, engine: 'fake' }] });
    }
    await setAliases(root, MODEL, { production: 'v1' }, 'first deployment');

    gw = spawn(process.execPath, [join(repoRoot, 'bin/kiln.js'), 'gateway', '--port', '0', '--health-interval-ms', '500'], {
      env: { ...process.env, KILN_GATEWAY_KEYS: `sim:${CLIENT_KEY}`, KILN_GATEWAY_ADMIN_KEY: ADMIN_KEY },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    gw.stdout!.setEncoding('utf8');
    gatewayUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      gw.stdout!.on('data', (c: string) => {
        out = (out + c).slice(-4000);
        const m = /"url":"([^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      gw.once('exit', (code) => reject(new Error(`gateway exited ${code}`)));
    });
    const put = await fetch(`${gatewayUrl}/admin/routes`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ routes: [{ version: 'v1', url: engines.v1!.url, weight: 1 }] }),
    });
    assert.equal(put.status, 200, await put.text());
    // The activities run in this process: the worker's environment holds the admin key.
    process.env.KILN_GATEWAY_ADMIN_KEY = ADMIN_KEY;
  });

  after(async () => {
    gw?.kill('SIGTERM');
    for (const e of Object.values(engines ?? {})) await e.stop();
    await env?.teardown();
    if (savedAdminKey === undefined) delete process.env.KILN_GATEWAY_ADMIN_KEY;
    else process.env.KILN_GATEWAY_ADMIN_KEY = savedAdminKey;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a rollout while the simulated users work (and `drive` sends signals); stops them when it ends. */
  async function rollout(
    id: string,
    input: Partial<RolloutInput> & Pick<RolloutInput, 'candidate' | 'production'>,
    seed: number,
    drive?: (handle: WorkflowHandle) => Promise<void>,
  ): Promise<RolloutResult> {
    const conn = env.nativeConnection;
    const wf = await Worker.create({ connection: conn, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle() });
    const data = await Worker.create({ connection: conn, taskQueue: TASK_QUEUES.data, activities: createRolloutActivities() });
    const stop = new AbortController();
    const users = simulateUsers({ gatewayUrl, clientKey: CLIENT_KEY, users: 300, seed, acceptance: P, concurrency: 16, signal: stop.signal });
    const args: RolloutInput = {
      registryRoot: root,
      model: MODEL,
      gatewayUrl,
      steps: [20, 50, 100],
      windowSeconds: 2,
      // A busy machine serves fewer requests per window: the step holds (up to 30 windows)
      // until every language has its views, so the test waits instead of failing.
      // Latency guardrails are left wide: both fake engines are equally fast, and on a busy
      // CI machine their p95s differ by scheduling noise (the rule is unit-tested).
      ...input,
      thresholds: { minViews: 20, minRequests: 20, maxHolds: 30, maxP95Ratio: 1000, maxP95LatencyMs: 60_000, ...input.thresholds },
    };
    try {
      return await wf.runUntil(
        data.runUntil(async () => {
          const handle = await env.client.workflow.start('modelRollout', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [args] });
          await drive?.(handle);
          const result = (await handle.result()) as RolloutResult;
          if (process.env.KILN_RECORD_HISTORY && ['rollout-better', 'rollout-worse', 'rollout-signals'].includes(id)) recordHistory(id, await handle.fetchHistory());
          return result;
        }),
      );
    } finally {
      stop.abort();
      tally.push(await users);
    }
  }

  async function waitForStatus(handle: WorkflowHandle, what: string, check: (s: RolloutStatus) => boolean): Promise<RolloutStatus> {
    for (let i = 0; i < 600; i++) {
      const s = await handle.query(rolloutStatusQuery);
      if (check(s)) return s;
      if (['promoted', 'rolled-back', 'rejected'].includes(s.state)) assert.fail(`the rollout ended (${s.state}: ${JSON.stringify(s.log)}) before ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  /** Every reported acceptance figure against the simulated truth. */
  function checkReport(result: RolloutResult, arms: Record<'candidate' | 'production', string>): LanguageComparison[] {
    const report = JSON.parse(readFileSync(fileUriToPath(result.reportUri.replace(/ab-report\.html$/, 'ab-report.json')), 'utf8')) as { languages: LanguageComparison[] };
    assert.match(readFileSync(fileUriToPath(result.reportUri), 'utf8'), /<h2>Acceptance per language<\/h2>/);
    const cells = report.languages.flatMap((l) => (['candidate', 'production'] as const).map((arm) => ({ l, arm, s: l[arm] }))).filter((c) => c.s.views > 0);
    assert.ok(cells.length >= 4, `figures for at least two languages per arm, got ${cells.length}`);
    for (const { l, arm, s } of cells) {
      assert.equal(s.rate, s.accepts / s.views);
      const ci95 = wilsonInterval(s.accepts, s.views, 0.95);
      assert.ok(Math.abs(s.low - ci95.low) < 1e-12 && Math.abs(s.high - ci95.high) < 1e-12, 'the report shows 95% Wilson intervals');
      // The truth must lie inside the interval. Checked at 99.9% jointly (Bonferroni over the
      // cells) so that the test fails for a wrong figure, not one run in twenty by chance.
      const truth = P[arms[arm]]![l.language]!;
      const joint = wilsonInterval(s.accepts, s.views, 1 - 0.001 / cells.length);
      assert.ok(joint.low <= truth && truth <= joint.high, `${l.language} ${arm} (${arms[arm]}): true p ${truth} outside ${joint.low.toFixed(3)}-${joint.high.toFixed(3)} (${s.accepts}/${s.views})`);
    }
    return report.languages;
  }

  /** The gateway's own counters since it started equal what the simulated users did, exactly. */
  async function checkCounters(): Promise<void> {
    const stats = await admin<GatewayStats>('GET', '/admin/stats');
    for (const [version, langs] of Object.entries(stats.versions)) {
      for (const [language, s] of Object.entries(langs.byLanguage)) {
        const sim = tally.reduce(
          (acc, t) => {
            const c = t.byVersion[version]?.[language];
            return { views: acc.views + (c?.views ?? 0), accepts: acc.accepts + (c?.accepts ?? 0) };
          },
          { views: 0, accepts: 0 },
        );
        assert.deepEqual({ views: s.views, accepts: s.accepts }, sim, `${version} ${language}`);
      }
    }
  }

  /** The figures behind a decision, printed with the test (node --test shows them as `# ...`). */
  function describeRun(t: TestContext, result: RolloutResult, languages: LanguageComparison[]): void {
    const windows = result.status.log.filter((e) => e.by === 'auto' && ['promote', 'hold', 'rollback'].includes(e.action)).map((e) => `${e.percent}%:${e.action}`);
    t.diagnostic(`${result.outcome}; windows ${windows.join(' ')}`);
    for (const l of languages) {
      const f = (x: LanguageComparison['candidate']) => `${x.accepts}/${x.views} = ${(100 * (x.rate ?? 0)).toFixed(1)}% [${(100 * x.low).toFixed(1)}, ${(100 * x.high).toFixed(1)}]`;
      t.diagnostic(`${l.language}: candidate ${f(l.candidate)}, production ${f(l.production)}`);
    }
  }

  it('promotes a better candidate to 100% on its own', async (t) => {
    const result = await rollout('rollout-better', { candidate: 'v2', production: 'v1' }, 1);
    assert.equal(result.outcome, 'promoted', result.reasons.join('; '));
    const auto = result.status.log.filter((e) => e.action === 'promote');
    assert.deepEqual(auto.map((e) => [e.percent, e.by]), [[20, 'auto'], [50, 'auto']]);
    assert.ok(!result.status.log.some((e) => e.by === 'signal'));
    const routes = (await admin<{ routes: GatewayRouteStatus[] }>('GET', '/admin/routes')).routes;
    assert.deepEqual(routes.map((r) => [r.version, r.weight]), [['v2', 1]]);
    const aliases = await getAliases(root, MODEL);
    assert.deepEqual(aliases.aliases, { production: 'v2' });
    assert.deepEqual(aliases.history.slice(-2).map((h) => [h.alias, h.from, h.to]), [['production', 'v1', 'v2'], ['canary', 'v2', null]]);
    assert.equal((await getVersion(root, MODEL, 'v2')).rollouts.at(-1)?.outcome, 'promoted');
    const languages = checkReport(result, { candidate: 'v2', production: 'v1' });
    describeRun(t, result, languages);
    assert.ok(languages.some((l) => l.verdict === 'better'));
    await checkCounters();
  });

  it('rolls back a worse candidate on its own and records why', async (t) => {
    const result = await rollout('rollout-worse', { candidate: 'v3', production: 'v2' }, 2);
    assert.equal(result.outcome, 'rolled-back', result.reasons.join('; '));
    assert.match(result.reasons.join('; '), /(Python|TypeScript): acceptance [\d.]+% \(\d+\/\d+\) is significantly below production's/);
    assert.equal(result.status.state, 'rolled-back');
    assert.deepEqual(result.status.arms.map((a) => [a.version, a.share]), [['v3', 0], ['v2', 1]]);
    const routes = (await admin<{ routes: GatewayRouteStatus[] }>('GET', '/admin/routes')).routes;
    assert.deepEqual(routes.map((r) => [r.version, r.weight]), [['v2', 1]]);
    assert.deepEqual((await getAliases(root, MODEL)).aliases, { production: 'v2' });
    const record = (await getVersion(root, MODEL, 'v3')).rollouts.at(-1)!;
    assert.equal(record.outcome, 'rolled-back');
    assert.match(record.reasons.join('; '), /significantly below production's/);
    assert.equal(record.reportUri, result.reportUri);
    describeRun(t, result, checkReport(result, { candidate: 'v3', production: 'v2' }));
    await checkCounters();
  });

  it('rejects a candidate whose eval regresses before any traffic moves', async () => {
    const result = await rollout('rollout-eval', { candidate: 'v4', production: 'v2' }, 3);
    assert.equal(result.outcome, 'rejected');
    assert.match(result.reasons[0]!, /^eval gate failed: Eval gate: python pass@1 25\.0% -> 10\.0% \(-15\.0 points\)/);
    assert.deepEqual((await admin<{ routes: GatewayRouteStatus[] }>('GET', '/admin/routes')).routes.map((r) => r.version), ['v2']);
    assert.equal((await getVersion(root, MODEL, 'v4')).rollouts.at(-1)?.outcome, 'rejected');
  });

  it('obeys pause, promote and rollback signals, and answers the status query', async () => {
    // v1 is worse than v2: left alone the rule would roll it back; a person drives it instead.
    const aliasesBefore = (await getAliases(root, MODEL)).aliases;
    // (Its eval scores are lower too: the gate is opened wide for this test.)
    const result = await rollout('rollout-signals', { candidate: 'v1', production: 'v2', thresholds: { maxEvalDropPoints: 100 } }, 4, async (handle) => {
      await handle.signal(pauseSignal);
      const paused = await waitForStatus(handle, 'paused at 20%', (s) => s.state === 'paused' && s.step === 0);
      assert.deepEqual(paused.arms.map((a) => [a.version, a.role, a.share]), [['v1', 'candidate', 0.2], ['v2', 'production', 0.8]]);
      await handle.signal(promoteSignal);
      await waitForStatus(handle, 'step 2 (50%)', (s) => s.step === 1);
      await handle.signal(rollbackSignal, 'a person saw enough');
    });
    assert.equal(result.outcome, 'rolled-back');
    assert.deepEqual(result.reasons, ['rollback signal: a person saw enough']);
    // (The pause may land before the first step or at it: its percentage is not checked.)
    assert.deepEqual(result.status.log.filter((e) => e.by === 'signal').map((e) => [e.action, e.action === 'pause' ? '-' : e.percent]), [['pause', '-'], ['promote', 20], ['rollback', 50]]);
    assert.deepEqual((await admin<{ routes: GatewayRouteStatus[] }>('GET', '/admin/routes')).routes.map((r) => [r.version, r.weight]), [['v2', 1]]);
    assert.deepEqual((await getAliases(root, MODEL)).aliases, aliasesBefore);
  });

  it('refuses a bad input at once, without retries', async () => {
    const conn = env.nativeConnection;
    const wf = await Worker.create({ connection: conn, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle() });
    const err = await wf.runUntil(
      env.client.workflow
        .execute('modelRollout', { taskQueue: TASK_QUEUES.workflows, workflowId: 'rollout-bad', args: [{ registryRoot: root, model: MODEL, candidate: 'v2', production: 'v1', gatewayUrl, steps: [50, 20, 100] }] })
        .then(() => assert.fail('expected a failure'), (e: unknown) => e),
    );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as { type?: string; nonRetryable?: boolean; message: string };
    assert.equal(cause.type, ErrorType.InvalidConfig);
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /`steps` must be increasing percentages in \(0, 100\], got \[50,20,100\]/);
  });

  it('gateway admin calls: a wrong key and bad routes are fatal, an unreachable gateway transient', async () => {
    process.env.KILN_GATEWAY_ADMIN_KEY = 'sk-wrong-0000000000';
    await assert.rejects(getGatewayStats(gatewayUrl), (e: { type?: string; nonRetryable?: boolean; message: string }) => {
      assert.equal(e.type, ErrorType.AccessDenied);
      assert.equal(e.nonRetryable, true);
      assert.doesNotMatch(e.message, /sk-wrong/);
      return true;
    });
    delete process.env.KILN_GATEWAY_ADMIN_KEY;
    await assert.rejects(getGatewayStats(gatewayUrl), { type: ErrorType.InvalidConfig, message: /Set KILN_GATEWAY_ADMIN_KEY in the worker's environment/ });
    process.env.KILN_GATEWAY_ADMIN_KEY = ADMIN_KEY;
    await assert.rejects(setGatewayRoutes({ gatewayUrl, routes: [{ version: 'v2', url: 'ftp://x', weight: 1 }] }), (e: { type?: string; nonRetryable?: boolean }) => {
      assert.equal(e.type, ErrorType.InvalidInput);
      assert.equal(e.nonRetryable, true);
      return true;
    });
    await assert.rejects(getGatewayStats('http://127.0.0.1:1'), (e: { type?: string; nonRetryable?: boolean }) => {
      assert.equal(e.type, ErrorType.ServiceUnavailable);
      assert.equal(e.nonRetryable, false);
      return true;
    });
  });
});
