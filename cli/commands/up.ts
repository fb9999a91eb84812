import { isPortOpen, Stack } from '../stack.js';

export async function run(argv: string[]): Promise<number> {
  const gpuWorkers = Number(argv[argv.indexOf('--gpu-workers') + 1] || 2);
  if (await isPortOpen(7233)) {
    process.stderr.write('kiln up: something already listens on 127.0.0.1:7233 (a stack is up? `kiln down` stops a background one).\n');
    return 1;
  }
  const stack = new Stack({ gpuWorkers: argv.includes('--gpu-workers') ? gpuWorkers : 2 });
  const info = await stack.start();
  process.stdout.write(`Temporal at ${info.temporalAddress}, UI at ${info.uiUrl}\n`);
  for (const p of info.processes) process.stdout.write(`  ${p.name.padEnd(14)} pid ${p.pid}  log ${p.log}\n`);
  process.stdout.write('Ctrl-C stops the stack.\n');
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
    for (const [name, child] of stack.children) {
      child.once('exit', (code, signal) => process.stderr.write(`kiln up: ${name} exited (${signal ?? code}); see its log\n`));
    }
  });
  await stack.stop();
  return 0;
}
