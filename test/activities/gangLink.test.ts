// A node's progress reports stop once the training run's history is past the ceiling: with no
// workflow worker reading (all down), reports must not pile up towards Temporal's hard limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { signalProgress } from '../../activities/train/gangLink.js';
import type { TrainNodeInput } from '../../contracts/training.js';
import { startTestServer } from '../support/temporal.js';

let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => env?.teardown());

describe('signalProgress', () => {
  it('signals while the history is short and stops at the ceiling when nothing reads it', async () => {
    // A training run on a queue no worker polls: every report stays in its history.
    const handle = await env.client.workflow.start('trainingRun', { taskQueue: 'nobody-polls', workflowId: 'unread-run', args: [{}] });
    const input = { trainingWorkflowId: handle.workflowId, attempt: 1 } as TrainNodeInput;
    const sent: boolean[] = [];
    for (let step = 1; step <= 12; step++) sent.push(await signalProgress(env.client, input, { step, totalSteps: 100, attempt: 1 }, 8));
    const length = (await handle.describe()).historyLength;
    // Started + first task scheduled = 2 events; reports until the history holds 8.
    assert.deepEqual(sent, [true, true, true, true, true, true, false, false, false, false, false, false]);
    assert.equal(length, 8);
    await handle.terminate();
  });
});
