// Engine process stats from /proc and GPU figures from nvidia-smi's CSV (no GPU here: the parser
// is checked on the format nvidia-smi prints for --format=csv,noheader,nounits).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNvidiaSmi, readProcessStats } from '../../gateway/hostStats.js';

describe('host stats', () => {
  it('parses nvidia-smi --query-gpu output, skipping lines it cannot read', () => {
    const gpus = parseNvidiaSmi('0, NVIDIA H200, 37, 70144, 143771\n1, NVIDIA H200, [N/A], 1, 143771\n\n');
    assert.deepEqual(gpus, [{ index: '0', name: 'NVIDIA H200', utilization: 0.37, memoryUsedBytes: 70144 * 1024 * 1024, memoryTotalBytes: 143771 * 1024 * 1024 }]);
  });

  it("reads a process's CPU seconds and resident memory, and nothing for a process that is gone", async () => {
    const s = await readProcessStats(process.pid);
    assert.ok(s && s.cpuSeconds > 0 && s.rssBytes > 1024 * 1024, JSON.stringify(s));
    assert.equal(await readProcessStats(2 ** 22 + 12345), undefined);
  });
});
