/**
 * kiln: raw data in, a fired model out.
 *   kiln up                      start the dev stack (Temporal dev server + UI, workers); Ctrl-C stops it
 *   kiln run <config> [--up]     start llmPipeline, follow its progress, print the summary
 *   kiln down                    stop a stack that `kiln run --up` left running
 *   kiln gateway                 the serving gateway (A/B routing, /v1/events, /metrics) in the foreground
 *   kiln validate-config <file>  the workflow's own config validation, as a command
 *   kiln redact [--json]         redact PII from stdin
 *   kiln eval-samples --problems <f> --samples <f>   human-eval: run samples in the sandbox, print pass@k
 *   kiln ingest|clean|dedup ...  one CPU stage's activity code, run locally
 *   kiln report --input <dir>    the data report (HTML + JSON) of a finished run's stages
 *   kiln explain-step --run <id> --step N   which source files were in the batch at a step
 *   kiln models ...              the model registry (versions, lineage, aliases)
 *   kiln rollout ...             start and drive a modelRollout (canary, A/B, rollback)
 *   kiln codec-server [--port N]  decrypt payloads for the Temporal UI (its codec endpoint)
 */
const COMMANDS: Record<string, () => Promise<{ run: (argv: string[]) => Promise<number> }>> = {
  up: () => import('./commands/up.js'),
  gateway: () => import('./commands/gateway.js'),
  down: () => import('./commands/down.js'),
  run: () => import('./commands/run.js'),
  'validate-config': () => import('./commands/validate-config.js'),
  redact: () => import('./commands/redact.js'),
  'eval-samples': () => import('./commands/eval-samples.js'),
  ingest: () => import('./commands/ingest.js'),
  clean: () => import('./commands/clean.js'),
  dedup: () => import('./commands/dedup.js'),
  report: () => import('./commands/report.js'),
  'explain-step': () => import('./commands/explain-step.js'),
  models: () => import('./commands/models.js'),
  rollout: () => import('./commands/rollout.js'),
  'codec-server': () => import('./commands/codec-server.js'),
};

const USAGE = `Usage: kiln <command> [options]

Commands:
  up                         start the dev stack (Temporal dev server with UI, 1 data worker, 2 GPU workers)
  run <config> [--up]        start llmPipeline on a config, show progress, print a summary
  down                       stop a stack started in the background by \`kiln run --up\`
  gateway [--port P] [--routes F]
                             the serving gateway: OpenAI completions routed by weight per user, /v1/events, /metrics
  validate-config <file>     validate a pipeline config exactly as the workflow does
  redact [--json]            redact e-mails, IP addresses, keys and passwords from stdin
  eval-samples --problems <jsonl[.gz]> --samples <jsonl> [--k 1,10]
                             run human-eval samples in the sandbox and print pass@k as JSON
  ingest --source <uri> --out <uri> [--languages a,b]
  clean --input <dir uri> --out <uri>
  dedup --input <dir uri> --out <uri>
                             run one CPU stage locally (debugging, benchmarks)
  report --input <dedup stage dir> [--out <uri>] [--title <text>]
                             write the data report (report.html, report.json) of a finished run's data stages
  explain-step --run <id> --step N [--json]
  explain-step --shards <dir> --config <trainer.json> --step N [--json]
                             which source files (repo, path, token spans) were in each rank's batch at step N
  models list|show|alias      the model registry: versions with lineage, eval scores, deployments, aliases
  rollout start|status|promote|pause|resume|rollback
                             a canary rollout through the gateway (the modelRollout workflow)
  codec-server [--port N] [--origin URL]
                             decrypt payloads (KILN_CODEC_KEYS) for the Temporal UI and CLI
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`kiln: unknown command \`${name}\`.\n\n${USAGE}`);
    return 2;
  }
  const command = await load();
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    const e = err as { message?: string; cause?: { message?: string } };
    process.stderr.write(`kiln: ${e?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
