/**
 * kiln rollout start --model <name> --candidate <version> [--production <version>] [--gateway <url>]
 *                    [--root <uri>] [--steps 5,25,50,100] [--window-seconds 300] [--id <workflow id>]
 * kiln rollout status <workflow id> [--json]
 * kiln rollout promote|pause|resume <workflow id>
 * kiln rollout rollback <workflow id> [--reason <text>]
 * Starts and drives the modelRollout workflow (workflows/rollout.ts) on the running stack. The
 * production version defaults to the registry's `production` alias, the gateway to $KILN_GATEWAY_URL.
 */
import { parseArgs } from 'node:util';
import { GatewayEnv } from '../../contracts/gateway.js';
import { promoteSignal, rollbackSignal, rolloutStatusQuery, type RolloutInput, type RolloutStatus } from '../../contracts/rollout.js';
import { pauseSignal, resumeSignal, TASK_QUEUES } from '../../contracts/workflows.js';
import { getAliases } from '../../lib/registry/registry.js';
import { connectClient } from '../../workers/connection.js';
import { toUri, UsageError } from '../stageCommand.js';
import { table } from './models.js';

const USAGE = `Usage:
  kiln rollout start --model <name> --candidate <version> [--production <version>] [--gateway <url>]
                     [--root <uri>] [--steps 5,25,50,100] [--window-seconds 300] [--id <workflow id>]
  kiln rollout status <workflow id> [--json]
  kiln rollout promote|pause|resume <workflow id>
  kiln rollout rollback <workflow id> [--reason <text>]
--production defaults to the registry's \`production\` alias; --gateway to $${GatewayEnv.url}; --root to $KILN_REGISTRY_ROOT, else ./.kiln/artifacts.
The workers need $${GatewayEnv.adminKey} (the gateway's admin key) in their environment.
`;

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

export function formatStatus(s: RolloutStatus): string {
  const arms = table(
    ['version', 'role', 'share', 'requests', 'error rate', 'p95 ms', 'views', 'acceptance'],
    s.arms.map((a) => [a.version, a.role, pct(a.share), String(a.figures?.requests ?? '-'), pct(a.figures?.errorRate), a.figures?.p95LatencyMs === undefined ? '-' : String(Math.round(a.figures.p95LatencyMs)), String(a.figures?.views ?? '-'), pct(a.figures?.acceptance)]),
  );
  const langs = s.languages.length
    ? table(['language', 'candidate', 'production', 'p (worse)', 'verdict'], s.languages.map((l) => [l.language, `${pct(l.candidate.rate)} of ${l.candidate.views}`, `${pct(l.production.rate)} of ${l.production.views}`, l.pWorse === undefined ? '-' : l.pWorse.toPrecision(2), l.verdict]))
    : '';
  const log = s.log.map((e) => `  step ${e.step + 1} (${e.percent}%) ${e.action} by ${e.by}${e.reasons.length ? `: ${e.reasons.join('; ')}` : ''}`).join('\n');
  return `${s.model}: ${s.candidate} vs ${s.production}: ${s.state}, step ${s.step + 1} of ${s.steps.length} (${s.steps.join(' -> ')}%)${s.holds ? `, ${s.holds} hold(s)` : ''}\n\n${arms}\n${langs ? `${langs}\n` : ''}decisions:\n${log}\n${s.reportUri ? `report: ${s.reportUri}\n` : ''}`;
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string' },
        candidate: { type: 'string' },
        production: { type: 'string' },
        gateway: { type: 'string' },
        root: { type: 'string' },
        steps: { type: 'string' },
        'window-seconds': { type: 'string' },
        id: { type: 'string' },
        reason: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`kiln rollout: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [sub, id] = positionals;
  if (v.help || sub === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    if (sub === 'start') {
      if (!v.model || !v.candidate) throw new UsageError('`kiln rollout start` needs --model and --candidate.');
      const root = await toUri(v.root ?? (process.env.KILN_REGISTRY_ROOT || './.kiln/artifacts'));
      const production = v.production ?? (await getAliases(root, v.model)).aliases.production;
      if (!production) throw new UsageError(`Model ${v.model} has no \`production\` alias in ${root}: pass --production.`);
      const gatewayUrl = v.gateway ?? process.env[GatewayEnv.url];
      if (!gatewayUrl) throw new UsageError(`Pass --gateway or set ${GatewayEnv.url}.`);
      const steps = v.steps?.split(',').map(Number);
      const windowSeconds = v['window-seconds'] === undefined ? undefined : Number(v['window-seconds']);
      const input: RolloutInput = { registryRoot: root, model: v.model, candidate: v.candidate, production, gatewayUrl, ...(steps ? { steps } : {}), ...(windowSeconds !== undefined ? { windowSeconds } : {}) };
      const workflowId = v.id ?? `rollout/${v.model}/${v.candidate}`;
      const client = await connectClient();
      try {
        await client.workflow.start('modelRollout', { taskQueue: TASK_QUEUES.workflows, workflowId, args: [input] });
      } finally {
        await client.connection.close();
      }
      process.stdout.write(`started ${workflowId}: ${v.candidate} against ${production} through ${gatewayUrl}\nfollow it: kiln rollout status ${workflowId}\n`);
      return 0;
    }
    if (!sub || !['status', 'promote', 'pause', 'resume', 'rollback'].includes(sub)) throw new UsageError(sub ? `Unknown subcommand \`${sub}\`.` : 'Missing a subcommand.');
    if (!id) throw new UsageError(`\`kiln rollout ${sub}\` needs the rollout's workflow id.`);
    const client = await connectClient();
    try {
      const handle = client.workflow.getHandle(id);
      if (sub === 'status') {
        const s = await handle.query(rolloutStatusQuery);
        process.stdout.write(v.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
        return 0;
      }
      if (sub === 'promote') await handle.signal(promoteSignal);
      else if (sub === 'pause') await handle.signal(pauseSignal);
      else if (sub === 'resume') await handle.signal(resumeSignal);
      else await handle.signal(rollbackSignal, v.reason);
      process.stdout.write(`${sub} sent to ${id}\n`);
      return 0;
    } finally {
      await client.connection.close();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`kiln rollout: ${err.message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`kiln rollout: ${(err as Error).message}\n`);
    return 1;
  }
}
