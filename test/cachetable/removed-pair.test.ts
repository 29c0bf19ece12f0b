import { describe, expect, it } from 'vitest';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { makeFile } from './helpers.js';

describe('cachetable: a PAIR that left the table', () => {
  // Scenario: PAIRs leave the table by eviction, by removal under their write pin and by the close of their cachefile; a reference kept
  // to such a PAIR (as a finished pin or a settled promise may keep one) no longer reaches its value, so it cannot keep the value alive.
  it('Scenario: evicted, removed and closed-out PAIRs no longer hold their values', async () => {
    const ct = new Cachetable({ autoEvict: false });
    const { cf } = await makeFile(ct, 'a', { blocks: 3 });
    const evicted = await ct.getAndPin(cf, 1n, { mode: 'read' });
    ct.unpin(evicted);
    const removed = await ct.getAndPin(cf, 2n, { mode: 'write' });
    const closed = await ct.getAndPin(cf, 3n, { mode: 'read' });
    ct.unpin(closed);
    for (const p of [evicted, removed, closed]) expect(p.value).toEqual({ a: 0, b: 0 });

    await ct.unpinAndRemove(removed);
    ct.memoryLimit = 15; // two 10-byte PAIRs left: the evictor takes one
    expect(await ct.evict()).toBe(1);
    const gone = ct.peek(cf, 1n) === undefined ? evicted : closed;
    const stays = gone === evicted ? closed : evicted;
    expect(gone.removed).toBe(true);
    expect(gone.value).toBeUndefined();
    expect(removed.removed).toBe(true);
    expect(removed.value).toBeUndefined();
    // The PAIR still in the table keeps its value until its cachefile closes.
    expect(stays.value).toEqual({ a: 0, b: 0 });
    await ct.closeCachefile(cf);
    expect(stays.removed).toBe(true);
    expect(stays.value).toBeUndefined();
    expect(ct.pairCount).toBe(0);
  });
});
