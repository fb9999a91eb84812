// The training run report and rank 0's metrics log: parts written per flush, read back in
// order, attempts summarised with the steps a restart redid; the trainer-liveness limit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { MetricsLog, readMetrics, runDirUri } from '../../activities/train/metrics.js';
import { renderTrainingReport, summarizeAttempts, trainingReport } from '../../activities/report/trainingReport.js';
import { stallLimitMs } from '../../activities/train/node.js';

describe('training metrics and report', () => {
  it('keeps rank 0 events across attempts and reports the restart with its redone steps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-report-'));
    try {
      const checkpointsUri = fileUri(join(dir, 'train', 'abc', 'checkpoints'));
      assert.equal(runDirUri(checkpointsUri), fileUri(join(dir, 'train', 'abc')));
      const first = new MetricsLog(checkpointsUri, 1, new Date('2026-01-01T00:00:00Z'));
      first.add({ event: 'start', step: 0 });
      for (let step = 1; step <= 13; step++) {
        first.add({ event: 'step', step, loss: 5 - step / 10, tokens_per_s: 1000 + step });
        if (step === 10) {
          first.add({ event: 'checkpoint', step, path: '/x' });
          await first.flush();
        }
      }
      await first.flush(); // the steps after the checkpoint, written when the trainer died
      const second = new MetricsLog(checkpointsUri, 2, new Date('2026-01-01T00:01:00Z'));
      second.add({ event: 'start', step: 10 });
      for (let step = 11; step <= 20; step++) second.add({ event: 'step', step, loss: 4 - step / 10, tokens_per_s: 1200 });
      second.add({ event: 'done', step: 20, final_loss: 2 });
      await second.flush();

      const events = await readMetrics(checkpointsUri);
      assert.equal(events.filter((e) => e.event === 'step').length, 23);
      const [a1, a2] = summarizeAttempts(events).map((g) => g.summary);
      assert.deepEqual([a1!.attempt, a1!.fromStep, a1!.lastStep, a1!.end, a1!.lostSteps], [1, 0, 13, 'lost', 3]);
      assert.deepEqual([a2!.attempt, a2!.fromStep, a2!.lastStep, a2!.end, a2!.lostSteps], [2, 10, 20, 'done', 0]);

      const report = await trainingReport({ checkpointsUri, title: 'Run <abc>' });
      assert.equal(report.reportUri, fileUri(join(dir, 'train', 'abc', 'report', 'training.html')));
      const html = readFileSync(fileUriToPath(report.reportUri), 'utf8');
      assert.match(html, /<title>Run &lt;abc&gt;<\/title>/);
      assert.equal((html.match(/<svg/g) ?? []).length, 2, 'a loss chart and a throughput chart');
      assert.match(html, /attempt 1/);
      assert.match(html, /3 step\(s\) redone after restarts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders a report without events', () => {
    const { html, attempts } = renderTrainingReport('empty', []);
    assert.deepEqual(attempts, []);
    assert.match(html, /No trainer events were recorded/);
  });

  it('sizes the trainer-liveness limit to the gaps the run shows, with a floor and a start-up allowance', () => {
    assert.equal(stallLimitMs(120, 0, false), 600_000, 'before the first step: 10 minutes');
    assert.equal(stallLimitMs(900, 0, false), 900_000);
    assert.equal(stallLimitMs(5, 200, true), 5_000, 'the floor');
    assert.equal(stallLimitMs(5, 30_000, true), 120_000, '4x the longest gap');
    assert.equal(stallLimitMs(120, 200, true, { longestWriteMs: 0 }), 1_800_000, 'a checkpoint being written: 30 minutes');
    assert.equal(stallLimitMs(120, 200, true, { longestWriteMs: 600_000 }), 2_400_000, '4x the longest write');
  });
});
