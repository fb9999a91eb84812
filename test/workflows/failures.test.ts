// How a gang's failures are summarised: root cause first, whatever order they arrived in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure } from '@temporalio/common';
import { ErrorType } from '../../contracts/errors.js';
import { describeGangFailure, isDrain } from '../../contracts/failures.js';

const activityFailure = (cause: Error) => new ActivityFailure('Activity task failed', 'trainNode', '1', RetryState.MAXIMUM_ATTEMPTS_REACHED, 'w', cause);
const trainerExit = (rank: number) =>
  activityFailure(ApplicationFailure.create({ type: ErrorType.NodeFailed, message: `Node ${rank} failed: torchrun exited with code 1.\nConnection closed by peer` }));

describe('describeGangFailure', () => {
  it('names a lost node before the peer whose trainer failed first because of it', () => {
    const lost = activityFailure(new TimeoutFailure('activity Heartbeat timeout', undefined, 'HEARTBEAT'));
    const text = describeGangFailure([
      { rank: 1, workerId: 'gpu-0', error: trainerExit(1) },
      { rank: 0, workerId: 'gpu-1', error: lost },
    ]);
    assert.equal(text, 'Node 0 (worker gpu-1) was lost: its worker stopped sending heartbeats.\n(then: Node 1 failed: torchrun exited with code 1.)');
  });

  it('keeps the arrival order among trainer exits, with the first one whole', () => {
    const text = describeGangFailure([
      { rank: 1, error: trainerExit(1) },
      { rank: 0, error: trainerExit(0) },
    ]);
    assert.match(text, /^Node 1 failed: torchrun exited with code 1\.\nConnection closed by peer\n\(then: Node 0 failed/);
  });

  it('puts fatal, hung and shut-down nodes first; a node that never started is lost', () => {
    const fatal = activityFailure(ApplicationFailure.create({ type: ErrorType.TrainerFatal, message: 'loss is NaN', nonRetryable: true }));
    assert.match(describeGangFailure([{ rank: 1, error: trainerExit(1) }, { rank: 0, error: fatal }]), /^loss is NaN/);
    const hung = activityFailure(ApplicationFailure.create({ type: ErrorType.NodeHung, message: 'Node 0 is hung' }));
    assert.match(describeGangFailure([{ rank: 1, error: trainerExit(1) }, { rank: 0, error: hung }]), /^Node 0 is hung\n/);
    const unstarted = activityFailure(new TimeoutFailure('activity ScheduleToStart timeout', undefined, 'SCHEDULE_TO_START'));
    assert.equal(describeGangFailure([{ rank: 0, workerId: 'gpu-3', error: unstarted }]), 'Node 0 (worker gpu-3) was lost: its worker did not start the node.');
    assert.equal(describeGangFailure([]), 'a node stopped without finishing');
  });

  it('a gang stopped by a worker shutting down is a drain, whatever failed after it', () => {
    const shutdown = activityFailure(ApplicationFailure.create({ type: ErrorType.NodeShutdown, message: 'Node 1: its worker is shutting down' }));
    assert.equal(isDrain([{ rank: 0, error: trainerExit(0) }, { rank: 1, error: shutdown }]), true);
    assert.equal(isDrain([{ rank: 0, error: trainerExit(0) }]), false);
    const lost = activityFailure(new TimeoutFailure('activity Heartbeat timeout', undefined, 'HEARTBEAT'));
    assert.equal(isDrain([{ rank: 0, error: lost }, { rank: 1, error: shutdown }]), false, 'a lost node is a crash');
    assert.equal(isDrain([]), false);
  });
});
