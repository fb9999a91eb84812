// retryTransient: rides out retryable failures of the store for a bounded time, and passes a
// non-retryable one (a person must act) through at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { retryable } from '../../lib/storage/fileStore.js';
import { isRetryable } from '../../contracts/errors.js';
import { retryTransient } from '../../lib/storage/retry.js';

describe('retryTransient', () => {
  it('retries a retryable failure with growing waits until the call succeeds', async () => {
    let calls = 0;
    const waits: number[] = [];
    const got = await retryTransient(
      async () => {
        if (++calls < 4) throw retryable('S3 PutObject s3://b/k failed, a retry may succeed: ECONNREFUSED.');
        return 'done';
      },
      { patienceMs: 10_000, initialDelayMs: 5, maxDelayMs: 12, onRetry: (_e, _n, ms) => waits.push(ms) },
    );
    assert.equal(got, 'done');
    assert.equal(calls, 4);
    assert.deepEqual(waits, [5, 10, 12]);
  });

  it('passes a non-retryable failure through on the first call', async () => {
    let calls = 0;
    const denied = fatal(ErrorType.AccessDenied, 'S3 refused PutObject on s3://b/k: AccessDenied (HTTP 403)');
    await assert.rejects(
      retryTransient(async () => {
        calls++;
        throw denied;
      }, { patienceMs: 10_000, initialDelayMs: 1 }),
      (e) => e === denied,
    );
    assert.equal(calls, 1);
    assert.equal(isRetryable(denied), false);
  });

  it('gives up with the last error once its patience is spent, or when told to', async () => {
    let calls = 0;
    const start = Date.now();
    await assert.rejects(
      retryTransient(async () => {
        throw retryable(`down ${++calls}`);
      }, { patienceMs: 60, initialDelayMs: 10, maxDelayMs: 10 }),
      (e) => (e as Error).message === `down ${calls}`,
    );
    assert.ok(calls >= 2 && Date.now() - start < 1_000, `${calls} calls`);
    let tries = 0;
    await assert.rejects(
      retryTransient(async () => {
        throw retryable(`down ${++tries}`);
      }, { patienceMs: 10_000, initialDelayMs: 1, giveUp: () => tries >= 2 }),
      /down 2/,
    );
  });
});
