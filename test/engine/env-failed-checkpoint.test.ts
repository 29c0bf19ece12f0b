import { describe, expect, it } from 'vitest';
import { Env, type EnvOptions } from '../../src/engine/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { SimStorage, type IoEvent } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { ioError } from '../../src/storage/io-error.js';
import { rejection } from '../support/rejection.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const FAILED = /environment failed at checkpoint: .*injected.*; reopen to recover/;

/** A fresh environment with committed rows in a multi-node tree and a live txn holding writes. */
async function setup(o: Partial<EnvOptions> = {}) {
  const storage = new SimStorage({ seed: 5 });
  const clock = new VirtualClock();
  const open = () => Env.open('/env', { storage, clock, durability: 'sync', checkpointPeriodMs: 0, owner: 'fail', maxEntries: 4, ...o });
  const env = await open();
  const d = await env.createDictionary('t');
  const rows: Record<string, string> = {};
  for (let i = 0; i < 24; i++) {
    await env.put(d, enc(`k${String(i).padStart(2, '0')}`), enc(`v${i}`));
    rows[`k${String(i).padStart(2, '0')}`] = `v${i}`;
  }
  const live = env.begin();
  await live.put(d, enc('live'), enc('x'));
  return { storage, clock, open, env, d, rows, live };
}

/** Make the n-th I/O call from now fail once with EIO (a real error, not a crash). */
function failIoAt(storage: SimStorage, n: number): { fired: () => boolean; seen: IoEvent[] } {
  let left = n;
  let fired = false;
  const seen: IoEvent[] = [];
  storage.onIo((ev) => {
    seen.push(ev);
    if (!fired && --left === 0) {
      fired = true;
      throw ioError(ev.op, ev.path, 'EIO', 'injected');
    }
  });
  return { fired: () => fired, seen };
}

async function dump(env: Env): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await env.begin().range(await env.openDictionary('t'))) out[dec(e.key)!] = dec(e.value)!;
  return out;
}

describe('engine: a failed checkpoint puts the environment in the failed state', () => {
  // Scenario: for every I/O call a checkpoint makes, an I/O error there fails the checkpoint;
  // every later operation rejects with the same clear error (never an invariant error), close()
  // writes nothing to the environment's data, and a reopen recovers every committed row.
  it('Scenario: an I/O error at each I/O call of a checkpoint; later operations, close and reopen', async () => {
    // The I/O calls of one checkpoint, counted on an identical environment.
    const dry = await setup();
    const before = dry.storage.ioOps();
    await dry.env.checkpoint();
    const calls = dry.storage.ioOps() - before;
    dry.env.abandon();
    expect(calls).toBeGreaterThan(5);

    const kinds = new Set<string>();
    for (let n = 1; n <= calls; n++) {
      const h = await setup();
      const inj = failIoAt(h.storage, n);
      const err = await rejection(h.env.checkpoint());
      expect(inj.fired(), `I/O ${n}`).toBe(true);
      expect(err, `I/O ${n}`).toBeInstanceOf(TokusimError);
      expect((err as TokusimError).kind).toBe('io');
      expect((err as Error).message).toMatch(FAILED);
      kinds.add(inj.seen[inj.seen.length - 1]!.op);
      const failed = h.env.failedWith;
      expect(failed).toBe(err);

      // Every later operation rejects with the one failed-state error.
      const later = await Promise.all([
        rejection(h.env.put(h.d, enc('k00'), enc('new'))),
        rejection(h.env.get(h.d, enc('k00'))),
        rejection(h.env.update(h.d, enc('n'), enc('1'))),
        rejection(() => h.env.begin()),
        rejection(h.live.put(h.d, enc('k01'), enc('new'))),
        rejection(h.live.get(h.d, enc('live'))),
        rejection(h.live.commit()),
        rejection(h.env.createDictionary('u')),
        rejection(h.env.openDictionary('t')),
        rejection(h.env.checkpoint()),
      ]);
      for (const [i, e] of later.entries()) expect(e, `I/O ${n}, operation ${i}`).toBe(failed);

      // close() writes nothing but the lock file's removal, and closes the log's handle.
      const writes: string[] = [];
      const closes: string[] = [];
      h.storage.onIo((ev) => {
        if (['pwrite', 'truncate', 'fsync', 'rename', 'unlink'].includes(ev.op) && !ev.path.endsWith('__tokusim_env_lock')) writes.push(`${ev.op} ${ev.path}`);
        if (ev.op === 'close') closes.push(ev.path);
      });
      await h.env.close();
      expect(writes).toEqual([]);
      expect(closes.filter((p) => p.endsWith('.tokulog29')), `I/O ${n}`).toHaveLength(1);
      expect(await rejection(h.env.put(h.d, enc('k00'), enc('z')))).toBeInstanceOf(TokusimError);

      // A reopen (same process, same disk) recovers: committed rows, the live txn aborted.
      const env2 = await h.open();
      expect(env2.recoveryReport, `I/O ${n}`).not.toBeNull();
      expect(await dump(env2)).toEqual(h.rows);
      await env2.put(await env2.openDictionary('t'), enc('after'), enc('1'));
      await env2.close();
    }
    // The sweep met more than one kind of I/O call (writes and syncs at least).
    expect(kinds.size).toBeGreaterThan(1);
  }, 60_000);

  // Scenario: a scheduled (periodic) checkpoint fails in the background; the next client call
  // gets the failed-state error, not an invariant error from the cachetable.
  it('Scenario: a scheduled checkpoint fails; the next write rejects with the failed-state error', async () => {
    const h = await setup({ checkpointPeriodMs: 1000 });
    let armed = true;
    h.storage.onIo((ev) => {
      if (armed && ev.op === 'pwrite' && ev.path.endsWith('.tokudb')) {
        armed = false;
        throw ioError(ev.op, ev.path, 'EIO', 'injected');
      }
    });
    await h.clock.advance(1500);
    expect(armed).toBe(false);
    const err = await rejection(h.env.put(h.d, enc('k03'), enc('w')));
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as Error).message).toMatch(FAILED);
    expect((err as TokusimError).kind).toBe('io');
    await h.env.close();
    const env2 = await h.open();
    expect(await dump(env2)).toEqual(h.rows);
    await env2.close();
  });

  // Scenario: a checkpoint that fails for a reason other than I/O (a failing crash hook) gives
  // the failed state with kind 'recovery'.
  it('Scenario: a non-I/O checkpoint failure is reported with kind recovery', async () => {
    let armed = false;
    const h = await setup({
      checkpointHooks: {
        afterPendingPairsWritten: () => {
          if (armed) throw new Error('injected hook failure');
        },
      },
    });
    armed = true;
    const err = await rejection(h.env.checkpoint());
    expect((err as TokusimError).kind).toBe('recovery');
    expect((err as Error).message).toMatch(FAILED);
    expect(await rejection(h.env.put(h.d, enc('k00'), enc('w')))).toBe(err);
    await h.env.close();
  });
});
