import { describe, expect, it } from 'vitest';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { beginCheckpoint, endCheckpoint, makeFile, modify } from './helpers.js';

/** A flush of `label` fails (as a write hitting EIO or a crashed disk would); the rest succeed. */
function failing(label: string): (l: string) => Promise<void> {
  return (l) => (l === label ? Promise.reject(new Error(`injected write failure at ${l}`)) : Promise.resolve());
}

/** Let every pending promise continuation run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('a clone whose background write fails', () => {
  // Scenario: a client write-pins a dirty pending PAIR (it is cloned, the clone written in the
  // background), the clone write fails, and the client then removes the PAIR, as an abort does
  // with its rollback node (crashtest seed 43497). The removal used to throw "I6: ... leaves the
  // table with a clone in flight" and keep the PAIR write-locked, so the next pin waited for ever.
  it('Scenario: the PAIR can still be removed, its write pin is released and the checkpoint reports the failure', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a', { yieldPoint: failing('flush a:1') });
    await modify(ct, cf, 1n, 7);
    const cfs = await beginCheckpoint(ct);
    const p = await ct.getAndPin(cf, 1n, { mode: 'write' }); // clones; the clone write fails
    await settle();
    await ct.unpinAndRemove(p);
    expect(p.removed).toBe(true);
    expect(p.valueLock.writeLocked).toBe(false);
    expect(ct.peek(cf, 1n)).toBeUndefined();
    expect(ct.sizeCloned).toBe(0);
    expect(disk.removed).toEqual([{ blocknum: 1n, forCheckpoint: false }]);
    ct.checkInvariants();
    // The failed write is not lost: the checkpoint that owned the clone fails with it.
    await expect(endCheckpoint(ct, cfs)).rejects.toThrow(/injected write failure at flush a:1/);
  });

  // Scenario: the clone write fails and the client keeps the PAIR. Its changes never reached the
  // disk, so it must be dirty again (or a later checkpoint or eviction would skip it) and the
  // failed clone must not linger (it would block eviction and removal for ever).
  it('Scenario: the clone is dropped and the PAIR is dirty again, so a later flush writes its value', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a', { yieldPoint: failing('flush a:1') });
    await modify(ct, cf, 1n, 7);
    const cfs = await beginCheckpoint(ct);
    const p = await ct.getAndPin(cf, 1n, { mode: 'write' });
    ct.unpin(p);
    await settle();
    expect(p.clone).toBeNull();
    expect(p.dirty).toBe(true);
    expect(p.diskMutex.writeLocked).toBe(false);
    expect(ct.sizeCloned).toBe(0);
    ct.checkInvariants();
    await expect(endCheckpoint(ct, cfs)).rejects.toThrow(/injected write failure/);
    expect(disk.writes).toEqual([]);
  });
});
