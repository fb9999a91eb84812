// Assertions on the project's one error family (lib/errors.ts), shared by the tests.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';

/** A non-retryable ApplicationFailure of `type`, whose message contains `includes`. */
export function assertFailure(err: unknown, type: string, includes?: string): true {
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${inspect(err)}`);
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, true);
  if (includes !== undefined) assert.ok(err.message.includes(includes), `message ${JSON.stringify(err.message)} lacks ${includes}`);
  return true;
}

/** An error Temporal would retry: anything but a non-retryable ApplicationFailure. */
export function assertRetryable(err: unknown): true {
  assert.ok(err instanceof Error, `expected an Error, got ${inspect(err)}`);
  assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), `expected a retryable error, got ${inspect(err)}`);
  return true;
}

/** A predicate for assert.rejects/throws: a non-retryable ApplicationFailure of `type` matching every pattern. */
export function failureMatching(type: string, ...patterns: RegExp[]) {
  return (err: unknown): true => {
    assertFailure(err, type);
    for (const p of patterns) assert.match((err as Error).message, p);
    return true;
  };
}
