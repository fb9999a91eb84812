import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { gatewayDir } from '../devGateway.js';
import { isPortOpen, Stack } from '../stack.js';

/**
 * kiln up [--gpu-workers N]: the dev stack (Temporal, workers, the serving gateway) in the
 * foreground. Like a cluster manager replacing a lost node, a worker (or the gateway) that dies is
 * started again after a few seconds (Temporal retries its work; the gateway reloads its routes);
 * Ctrl-C stops everything.
 */
export async function run(argv: string[]): Promise<number> {
  const at = argv.indexOf('--gpu-workers');
  const gpuWorkers = at >= 0 ? Number(argv[at + 1]) : 2;
  if (!Number.isInteger(gpuWorkers) || gpuWorkers < 1) {
    process.stderr.write(`kiln up: expected \`--gpu-workers\` to be a positive integer, got \`${argv[at + 1]}\`.\n`);
    return 2;
  }
  if (await isPortOpen(7233)) {
    process.stderr.write('kiln up: something already listens on 127.0.0.1:7233 (a stack is up? `kiln down` stops a background one).\n');
    return 1;
  }
  const stack = new Stack({ gpuWorkers });
  const info = await stack.start();
  process.stdout.write(`Temporal at ${info.temporalAddress}, UI at ${info.uiUrl}\n`);
  process.stdout.write(`Gateway at ${info.gatewayUrl}/v1/completions (key in ${join(gatewayDir(stack.home), 'secrets.json')}), metrics at ${info.gatewayUrl}/metrics\n`);
  for (const p of info.processes) process.stdout.write(`  ${p.name.padEnd(14)} pid ${p.pid}  log ${p.log}\n`);
  process.stdout.write('Ctrl-C stops the stack.\n');

  let stopping = false;
  const restart: Record<string, () => ChildProcess> = { 'data-worker': () => stack.startDataWorker(), gateway: () => stack.startGateway() };
  for (let i = 0; i < gpuWorkers; i++) restart[`gpu-worker-${i}`] = () => stack.startGpuWorker(i);
  const watch = (name: string, child: ChildProcess) =>
    child.once('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`kiln up: ${name} exited (${signal ?? code}); see its log\n`);
      const again = restart[name];
      if (!again) return;
      setTimeout(() => {
        if (stopping) return;
        const next = again();
        process.stderr.write(`kiln up: restarted ${name} (pid ${next.pid})\n`);
        watch(name, next);
      }, 3000);
    });
  for (const [name, child] of stack.children) watch(name, child);

  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  stopping = true;
  await stack.stop();
  return 0;
}
