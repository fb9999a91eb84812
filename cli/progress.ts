// Renders a pipeline's status as it changes: one line per stage event, a bar for training.
import cliProgress from 'cli-progress';
import { STAGES, type PipelineStatus } from '../contracts/workflows.js';

export class ProgressView {
  private seen = new Map<string, string>();
  private bar?: cliProgress.SingleBar;
  private lastLine = 0;
  private readonly tty = Boolean(process.stdout.isTTY);

  update(s: PipelineStatus): void {
    for (const stage of STAGES) {
      const state = s.stages[stage];
      if (this.seen.get(stage) === state) continue;
      this.seen.set(stage, state);
      if (state === 'pending') continue;
      if (stage === 'train' && state === 'running') this.startBar(s);
      if (stage === 'train' && state !== 'running') this.stopBar();
      this.line(`${icon(state)} ${stage.padEnd(9)} ${state}${summarize(s.results[stage]?.stats)}`);
    }
    if (s.stages.train === 'running') this.updateBar(s);
  }

  private startBar(s: PipelineStatus): void {
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      { format: '  train     [{bar}] {value}/{total} steps | loss {loss} | {tps} tok/s | {state}', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(s.train.totalSteps, s.train.step, { loss: '-', tps: '-', state: '' });
  }

  private updateBar(s: PipelineStatus): void {
    const t = s.train;
    const state = t.paused ? 'paused' : t.gangRestarts ? `restarts ${t.gangRestarts}` : '';
    if (this.bar) {
      this.bar.update(t.step, { loss: t.loss?.toFixed(4) ?? '-', tps: t.tokensPerS ? Math.round(t.tokensPerS) : '-', state });
    } else if (Date.now() - this.lastLine > 5000) {
      this.line(`  train     step ${t.step}/${t.totalSteps} loss ${t.loss?.toFixed(4) ?? '-'} ${state}`);
    }
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  private line(text: string): void {
    this.lastLine = Date.now();
    if (this.bar) process.stdout.write('\n');
    process.stdout.write(text + '\n');
  }

  close(): void {
    this.stopBar();
  }
}

function icon(state: string): string {
  return { running: '…', done: '✓', reused: '↺', failed: '✗' }[state] ?? ' ';
}

function summarize(stats: Record<string, unknown> | undefined): string {
  if (!stats) return '';
  const parts = Object.entries(stats)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
    .filter(([k]) => !/uri$/i.test(k))
    .slice(0, 6)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`);
  return parts.length ? `  (${parts.join(', ')})` : '';
}
