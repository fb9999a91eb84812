// Replays a recorded pipeline history against today's workflow code: any change that would make
// running workflows non-deterministic fails here. Re-record deliberately with
// KILN_RECORD_HISTORY=1 node scripts/run-tests.mjs test/workflows/pipeline.test.ts
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';

const { temporal } = proto;
import { workflowBundle } from '../support/temporal.js';

describe('replay', () => {
  it('replays the recorded llmPipeline history (stages, child training run, rendezvous, status)', async () => {
    const json = JSON.parse(readFileSync(new URL('../fixtures/pipeline-history.json', import.meta.url), 'utf8'));
    const history = temporal.api.history.v1.History.fromObject(json);
    const types = history.events!.map((e) => e.eventType);
    assert.ok(types.length > 30, `a real history: ${types.length} events`);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'pipeline-happy');
  });
});
