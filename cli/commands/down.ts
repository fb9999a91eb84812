import { stopRecordedStack } from '../stack.js';

export async function run(): Promise<number> {
  const stopped = stopRecordedStack();
  process.stdout.write(stopped.length ? `stopped ${stopped.map((p) => p.name).join(', ')}\n` : 'no background stack is recorded\n');
  return 0;
}
