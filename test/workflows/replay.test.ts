// Replays every recorded history of every release (test/fixtures/histories/<version>/) against
// today's workflow code: a change that would make a run in flight non-deterministic fails here.
// A new release adds its histories with KILN_RECORD_HISTORY=1 (see test/support/histories.ts);
// old ones are never re-recorded.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { recordedHistories } from '../support/histories.js';
import { workflowBundle } from '../support/temporal.js';

const { temporal } = proto;

describe('replay', () => {
  const histories = recordedHistories();
  it('has the histories of release 0.1.0 at least', () => {
    assert.ok(histories.some((h) => h.release === '0.1.0' && h.workflowId === 'pipeline-happy'), JSON.stringify(histories));
  });
  for (const h of histories) {
    it(`replays ${h.release}/${h.workflowId}`, async () => {
      const json = JSON.parse(readFileSync(h.path, 'utf8'));
      const history = temporal.api.history.v1.History.fromObject(json);
      const types = history.events!.map((e) => e.eventType);
      assert.ok(types.length > 30, `a real history: ${types.length} events`);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, h.workflowId);
    });
  }
});
