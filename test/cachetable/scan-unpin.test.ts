import { describe, expect, it } from 'vitest';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import type { CachetableEvent } from '../../src/cachetable/events.js';
import { makeFile, runCheckpoint } from './helpers.js';

describe('cachetable: a scan unpin drops only what the scan alone fetched', () => {
  // Scenario: a read pin that fetched a PAIR and is released as a scan's takes the PAIR out of the table at once (a clean eviction,
  // no write, its value dropped), with no memory limit; PAIRs the scan found cached, or that another pin reached after the fetch,
  // stay, and so do the PAIRs of ordinary unpins.
  it('Scenario: fetched-by-the-scan PAIRs leave; cached, shared and ordinary ones stay', async () => {
    const events: CachetableEvent[] = [];
    const ct = new Cachetable({ listener: (e) => events.push(e) });
    const { cf, disk } = await makeFile(ct, 'a', { blocks: 4 });

    // 1: fetched by the scan's own pin.
    const p1 = await ct.getAndPin(cf, 1n, { mode: 'read' });
    ct.unpin(p1, { scan: true });
    expect(ct.peek(cf, 1n)).toBeUndefined();
    expect(p1.removed).toBe(true);
    expect(p1.value).toBeUndefined();
    expect(ct.stats.pairsDroppedAfterScan).toBe(1);
    expect(ct.stats.pairsEvicted).toBe(1);
    expect(events.filter((e) => e.type === 'pair-evicted')).toEqual([{ type: 'pair-evicted', cachefile: 'a', blocknum: 1n, wasDirty: false, wasPending: false }]);

    // 2: already cached by an ordinary pin when the scan reads it.
    ct.unpin(await ct.getAndPin(cf, 2n, { mode: 'read' }));
    ct.unpin(await ct.getAndPin(cf, 2n, { mode: 'read' }), { scan: true });
    expect(ct.peek(cf, 2n)).toBeDefined();

    // 3: fetched by the scan, but another reader pinned it before the scan let go.
    const scan3 = await ct.getAndPin(cf, 3n, { mode: 'read' });
    const other3 = await ct.getAndPin(cf, 3n, { mode: 'read' });
    ct.unpin(scan3, { scan: true });
    ct.unpin(other3);
    expect(ct.peek(cf, 3n)).toBeDefined();

    // 4: an ordinary read pin that fetched it.
    ct.unpin(await ct.getAndPin(cf, 4n, { mode: 'read' }));
    expect(ct.peek(cf, 4n)).toBeDefined();

    expect(ct.stats.pairsDroppedAfterScan).toBe(1);
    expect(ct.pairCount).toBe(3);
    expect(ct.sizeCurrent).toBe(30);
    expect(disk.writes).toEqual([]);
    // A dropped block reads back from disk on the next pin.
    const again = await ct.getAndPin(cf, 1n, { mode: 'read' });
    expect(again.value).toEqual({ a: 0, b: 0 });
    ct.unpin(again);
    expect(ct.stats.pairsFetched).toBe(5);
  });

  // Scenario: a scan unpin leaves alone a PAIR that is dirty, checkpoint-pending or waited for, so writes and checkpoints see the
  // same PAIRs they would see without it; the checkpoint then writes the dirty PAIR as usual.
  it('Scenario: dirty, pending and waited-for PAIRs stay', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a', { blocks: 3 });

    // Dirty: fetched by a write pin that changed it, then read by a scan.
    const w = await ct.getAndPin(cf, 1n, { mode: 'write' });
    w.value.a = w.value.b = 1;
    ct.unpin(w, { dirty: true, scan: true });
    expect(ct.peek(cf, 1n)?.dirty).toBe(true);

    // Pending: fetched by the scan during a checkpoint that marked it pending before the scan let go.
    const s2 = await ct.getAndPin(cf, 2n, { mode: 'read' });
    await runCheckpoint(ct, async () => {
      expect(ct.peek(cf, 2n)?.checkpointPending).toBe(true);
      ct.unpin(s2, { scan: true });
      expect(ct.peek(cf, 2n)).toBeDefined();
    });
    expect(disk.writes.map((r) => r.blocknum)).toEqual([1n]);

    // Waited for: a writer queued behind the scan's read pin.
    const s3 = await ct.getAndPin(cf, 3n, { mode: 'read' });
    const writer = ct.getAndPin(cf, 3n, { mode: 'write' });
    ct.unpin(s3, { scan: true });
    const w3 = await writer;
    expect(w3.removed).toBe(false);
    ct.unpin(w3);
    expect(ct.peek(cf, 3n)).toBe(w3);
    expect(ct.stats.pairsDroppedAfterScan).toBe(0);
  });
});
