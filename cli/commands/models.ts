/**
 * kiln models list [--root <uri>] [--json]
 * kiln models show <name> [<version>] [--root <uri>] [--json]
 * kiln models alias <name> <alias> <version>|--remove [--reason <text>] [--root <uri>] [--json]
 * The model registry (lib/registry): versions with lineage, eval scores, deployments, rollouts,
 * and aliases. --root defaults to $KILN_REGISTRY_ROOT, else ./.kiln/artifacts (the dev configs').
 */
import { parseArgs } from 'node:util';
import { getAliases, getVersion, listModels, listVersions, setAliases } from '../../lib/registry/registry.js';
import type { ModelVersionRecord } from '../../lib/registry/types.js';
import { toUri, UsageError } from '../stageCommand.js';

const USAGE = `Usage:
  kiln models list [--root <uri>] [--json]                    models, their versions and aliases
  kiln models show <name> [<version>] [--root <uri>] [--json] versions of a model, or one version in full
  kiln models alias <name> <alias> <version> [--reason <text>] [--root <uri>]
  kiln models alias <name> <alias> --remove [--reason <text>] [--root <uri>]
--root: the artifact store root holding registry/ (file://, s3:// or a path); default $KILN_REGISTRY_ROOT, else ./.kiln/artifacts
`;

/** Left-aligned columns, two spaces apart. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

function evalSummary(r: ModelVersionRecord): string {
  const langs = r.eval?.languages ?? (r.eval?.passAtK ? { python: { passAtK: r.eval.passAtK } } : {});
  return Object.entries(langs).map(([l, m]) => `${l} ${((m.passAtK['pass@1'] ?? Object.values(m.passAtK)[0] ?? 0) * 100).toFixed(1)}`).join(', ') || '-';
}

function lastRollout(r: ModelVersionRecord): string {
  const last = r.rollouts.at(-1);
  return last ? `${last.outcome} (${last.role})` : '-';
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { root: { type: 'string' }, json: { type: 'boolean' }, remove: { type: 'boolean' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`kiln models: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [sub, ...args] = positionals;
  if (v.help || sub === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const root = await toUri(v.root ?? (process.env.KILN_REGISTRY_ROOT || './.kiln/artifacts'));
  const out = (value: unknown, text: string) => process.stdout.write(v.json ? `${JSON.stringify(value, null, 2)}\n` : text);
  try {
    switch (sub) {
      case 'list': {
        const models = [];
        for (const name of await listModels(root)) {
          const versions = await listVersions(root, name);
          const aliases = await getAliases(root, name);
          models.push({ name, versions: versions.map((r) => r.version), aliases: aliases.aliases, latest: versions.at(-1)?.createdAt });
        }
        const rows = models.map((m) => [m.name, String(m.versions.length), m.aliases.production ?? '-', m.aliases.canary ?? '-', m.versions.at(-1) ?? '-', m.latest ?? '-']);
        out({ root, models }, models.length ? table(['model', 'versions', 'production', 'canary', 'latest', 'registered (UTC)'], rows) : `No models registered under ${root}.\n`);
        return 0;
      }
      case 'show': {
        const [name, version] = args;
        if (!name) throw new UsageError('`kiln models show` needs a model name.');
        if (version) {
          const record = await getVersion(root, name, version);
          out(record, `${JSON.stringify(record, null, 2)}\n`);
          return 0;
        }
        const versions = await listVersions(root, name);
        const aliases = await getAliases(root, name);
        const byVersion = new Map<string, string[]>();
        for (const [alias, target] of Object.entries(aliases.aliases)) byVersion.set(target, [...(byVersion.get(target) ?? []), alias]);
        const rows = versions.map((r) => [
          r.version,
          (byVersion.get(r.version) ?? []).join(',') || '-',
          r.createdAt,
          r.lineage.pipelineRunId ?? '-',
          evalSummary(r),
          r.deployments.at(-1)?.endpoint ?? '-',
          lastRollout(r),
        ]);
        out(
          { name, aliases, versions },
          versions.length
            ? table(['version', 'aliases', 'registered (UTC)', 'pipeline run', 'pass@1 % by language', 'endpoint', 'last rollout'], rows)
            : `Model ${name} has no versions under ${root}.\n`,
        );
        return 0;
      }
      case 'alias': {
        const [name, alias, version] = args;
        if (!name || !alias || (!version && !v.remove) || (version && v.remove)) throw new UsageError('`kiln models alias` needs <name> <alias> and either <version> or --remove.');
        const record = await setAliases(root, name, { [alias]: v.remove ? null : version! }, v.reason ?? 'kiln models alias');
        out(record, `${name}: ${alias} ${v.remove ? 'removed' : `-> ${version}`} (revision ${record.revision})\n`);
        return 0;
      }
      default:
        throw new UsageError(sub ? `Unknown subcommand \`${sub}\`.` : 'Missing a subcommand.');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`kiln models: ${err.message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`kiln models: ${(err as Error).message}\n`);
    return 1;
  }
}
