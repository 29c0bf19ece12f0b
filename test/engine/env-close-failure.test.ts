import { describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { ioError } from '../../src/storage/io-error.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { dec, enc } from './helpers.js';
import { rejection } from '../support/rejection.js';

describe('engine: a close that fails part-way still lets go', () => {
  // Scenario: the disk refuses the dictionary fsyncs of the shutdown checkpoint, so close()
  // rejects with that I/O error. The environment must still let go of everything: a second
  // close() settles at once, the lock is released (another owner opens at once, though the
  // virtual clock never lets the lease run out), and that open recovers every committed row.
  it('Scenario: EIO during the shutdown checkpoint: close rejects, releases the lock, the next open recovers', async () => {
    const storage = new SimStorage({ seed: 5 });
    const clock = new VirtualClock();
    const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'first' });
    const d = await env.createDictionary('t');
    await env.put(d, enc('k1'), enc('v1'));
    await env.put(d, enc('k2'), enc('v2'));
    const stop = storage.onIo((ev) => {
      if (ev.op === 'fsync' && ev.path.endsWith('.tokudb')) throw ioError(ev.op, ev.path, 'EIO', 'injected');
    });
    const err = await rejection(env.close());
    stop();
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).where.actual ?? (err as Error).message).toMatch(/EIO/);
    await env.close(); // settles: nothing left to do
    expect(env.isClosed).toBe(true);
    const again = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'second' });
    const d2 = await again.openDictionary('t');
    expect(dec((await again.get(d2, enc('k1')))!)).toBe('v1');
    expect(dec((await again.get(d2, enc('k2')))!)).toBe('v2');
    await again.close();
  });
  // Scenario: the shutdown checkpoint succeeds and the dictionaries are closed, then the disk
  // refuses to close tokudb.rollback (the last file close() touches before the log and the
  // lock). close() rejects; a second close() settles; the lock is released, so another owner
  // opens at once and finds every row.
  it('Scenario: EIO after the dictionaries are closed: close rejects, releases the lock, the next open finds the rows', async () => {
    const storage = new SimStorage({ seed: 6 });
    const clock = new VirtualClock();
    const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'first' });
    const d = await env.createDictionary('t');
    await env.put(d, enc('k1'), enc('v1'));
    let dictClosed = false;
    const stop = storage.onIo((ev) => {
      if (ev.op === 'close' && ev.path.endsWith('.tokudb')) dictClosed = true;
      if (dictClosed && ev.op === 'close' && ev.path.endsWith('tokudb.rollback')) throw ioError(ev.op, ev.path, 'EIO', 'injected');
    });
    const err = await rejection(env.close());
    stop();
    expect(dictClosed).toBe(true);
    expect((err as Error | undefined)?.message).toMatch(/EIO/);
    await env.close();
    const again = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'second' });
    const d2 = await again.openDictionary('t');
    expect(dec((await again.get(d2, enc('k1')))!)).toBe('v1');
    await again.close();
  });
});
