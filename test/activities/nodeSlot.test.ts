// One gang per GPU worker across its two queues (activities/train/nodeSlot.ts): a worker whose node
// runs, or whose claim was just granted, refuses claims of other gangs; found by bench:scale, where
// a training worker's free claim slot took a second gang that then timed out and restarted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gangKey, NodeSlot } from '../../activities/train/nodeSlot.js';

describe('NodeSlot', () => {
  const a = gangKey('run-a', 1);
  const b = gangKey('run-b', 1);

  it('refuses another gang while a node runs, and frees the worker when it ends', () => {
    const slot = new NodeSlot();
    assert.ok(slot.tryClaim(a));
    slot.claimEnded(a);
    slot.occupy(a);
    assert.equal(slot.tryClaim(b), false, 'a training worker must not take a second gang');
    assert.equal(slot.holderOf(), a);
    slot.release(a);
    assert.ok(slot.tryClaim(b));
  });

  it('keeps a placed worker for its gang for the grace time only', () => {
    let now = 0;
    const slot = new NodeSlot(10_000, () => now);
    assert.ok(slot.tryClaim(a));
    slot.claimEnded(a); // cancelled: placed (its node comes next) or the placement was given up
    now = 9_000;
    assert.equal(slot.tryClaim(b), false);
    assert.ok(slot.tryClaim(a), 'the same gang may claim again (a placement retried)');
    slot.claimEnded(a);
    now = 19_001;
    assert.ok(slot.tryClaim(b), 'a promise nobody came for lapses');
  });

  it('tells another gang how long a promise without a node has left, and nothing when a node runs', () => {
    let now = 0;
    const slot = new NodeSlot(10_000, () => now);
    assert.equal(slot.lapsingFor(b), undefined, 'free');
    assert.ok(slot.tryClaim(a));
    slot.claimEnded(a);
    now = 4_000;
    assert.equal(slot.lapsingFor(b), 6_000, 'wait for the rest of the promise');
    assert.equal(slot.lapsingFor(a), undefined, 'its own gang need not wait');
    slot.occupy(a);
    assert.equal(slot.lapsingFor(b), undefined, 'a node runs: refuse, do not wait');
    slot.release(a);
    assert.ok(slot.tryClaim(b));
  });

  it('a new attempt of the same run is another gang', () => {
    const slot = new NodeSlot();
    slot.occupy(gangKey('run-a', 1));
    assert.equal(slot.tryClaim(gangKey('run-a', 2)), false);
    slot.release(gangKey('run-a', 1));
    assert.ok(slot.tryClaim(gangKey('run-a', 2)));
  });

  it('a node that ends while its own claim lingers leaves the worker free', () => {
    const slot = new NodeSlot();
    slot.tryClaim(a);
    slot.occupy(a);
    slot.claimEnded(a); // the claim's cancellation lands after the node started
    slot.release(a);
    assert.equal(slot.holderOf(), undefined);
  });
});
