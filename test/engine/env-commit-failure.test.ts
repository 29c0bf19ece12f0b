import { describe, expect, it } from 'vitest';
import { Env, type Dictionary, type Durability, type EnvOptions } from '../../src/engine/env.js';
import type { Txn } from '../../src/engine/txn.js';
import { TokusimError } from '../../src/base/errors.js';
import { VirtualClock, type Clock, type TimerHandle } from '../../src/storage/clock.js';
import { ioError } from '../../src/storage/io-error.js';
import { SimStorage, type IoEvent } from '../../src/storage/sim-storage.js';
import { dec, enc } from './helpers.js';
import { rejection } from '../support/rejection.js';

const LOG_FAILED = (code: string) => new RegExp(`environment failed at log write: .*${code}.*; reopen to recover`);

/**
 * A clock whose timers never fire: the host's event loop is busy with a commit loop that never
 * yields to timers, so only the commit path itself can keep the 'periodic' bound. Time moves
 * when the test says so.
 */
class StarvedClock implements Clock {
  ms = 0;
  nowMicros(): bigint {
    return 1_704_067_200_000_000n + BigInt(Math.floor(this.ms * 1000));
  }
  nowMs(): number {
    return this.ms;
  }
  sleep(): Promise<void> {
    return new Promise(() => undefined);
  }
  setTimer(): TimerHandle {
    return { cancel: () => undefined };
  }
}

async function setup(durability: Durability, o: Partial<EnvOptions> = {}, clock: Clock = new VirtualClock()) {
  const storage = new SimStorage({ seed: 11 });
  const open = (more: Partial<EnvOptions> = {}) => Env.open('/env', { storage, clock, durability, checkpointPeriodMs: 0, owner: 'commit-failure', ...o, ...more });
  const env = await open();
  const d = await env.createDictionary('t');
  await env.put(d, enc('before'), enc('1'));
  await env.checkpoint(); // 'before' is durable in every mode
  return { storage, clock, open, env, d };
}

/** Fail every later call of `op` on a log file with code (ENOSPC: a full disk stays full). */
function failLog(storage: SimStorage, op: 'pwrite' | 'fsync', code: string): { seen: IoEvent[]; stop: () => void } {
  const seen: IoEvent[] = [];
  const stop = storage.onIo((ev) => {
    if (ev.op === op && ev.path.endsWith('.tokulog29')) {
      seen.push(ev);
      throw ioError(ev.op, ev.path, code, 'injected');
    }
  });
  return { seen, stop };
}

/** What the tree holds for key, bypassing the failed-state check: was the commit ever applied? */
async function inTree(d: Dictionary, key: string): Promise<string | undefined> {
  return dec(await d.tree.get(enc(key)));
}

/** Reopen (after close, or after a crash of the disk) and read the rows of 't'. */
async function rowsAfterReopen(open: (o?: Partial<EnvOptions>) => Promise<Env>): Promise<Record<string, string>> {
  const env = await open({ clock: new VirtualClock() });
  const d = await env.openDictionary('t');
  const out: Record<string, string> = {};
  for (const e of await env.begin().range(d)) out[dec(e.key)!] = dec(e.value)!;
  await env.close();
  return out;
}

/** The failed state, seen from every side: the error, status, reads, writes, new transactions. */
async function expectFailedState(env: Env, d: Dictionary, err: unknown, code: string): Promise<void> {
  expect(err).toBeInstanceOf(TokusimError);
  expect((err as TokusimError).kind).toBe('io');
  expect((err as Error).message).toMatch(LOG_FAILED(code));
  expect(env.failedWith).toBe(err);
  expect(env.status().failed).toEqual({ kind: 'io', message: (err as Error).message });
  expect(await rejection(env.get(d, enc('before')))).toBe(err);
  expect(await rejection(env.put(d, enc('later'), enc('x')))).toBe(err);
  expect(await rejection(() => env.begin())).toBe(err);
}

describe('engine: a commit that did not become durable is never visible', () => {
  // Scenario: in 'sync' mode the disk is full (ENOSPC) or failing (EIO) at the log write that
  // carries a transaction's xcommit. The commit rejects, the transaction is 'failed' (not
  // 'committed'), its write never reached the tree, the environment is in its failed state
  // (status says so, reads and writes are refused), and a reopen does not find it.
  for (const code of ['ENOSPC', 'EIO']) {
    it(`Scenario: sync, ${code} at the log write of a Txn commit`, async () => {
      const h = await setup('sync');
      const t = h.env.begin();
      await t.put(h.d, enc('k'), enc('v'));
      const inj = failLog(h.storage, 'pwrite', code);
      const err = await rejection(t.commit());
      expect(inj.seen.length).toBeGreaterThan(0);
      expect(t.state).toBe('failed');
      expect(await inTree(h.d, 'k')).toBeUndefined();
      await expectFailedState(h.env, h.d, err, code);
      await h.env.close();
      inj.stop(); // space freed / disk replaced before the reopen
      const rows = await rowsAfterReopen(h.open);
      expect(rows).toEqual({ before: '1' });
    });
  }

  // Scenario: an XA prepare whose log write fails (ENOSPC) rejects with the failed-state error
  // (not a bare storage error), and the environment is in its failed state.
  it('Scenario: sync, ENOSPC at the log write of a prepare', async () => {
    const h = await setup('sync');
    const t = h.env.begin();
    await t.put(h.d, enc('p'), enc('v'));
    const inj = failLog(h.storage, 'pwrite', 'ENOSPC');
    const err = await rejection(t.prepare({ formatID: 1, gtridLength: 1, bqualLength: 0, data: enc('x') }));
    expect(inj.seen.length).toBeGreaterThan(0);
    expect(await inTree(h.d, 'p')).toBeUndefined();
    await expectFailedState(h.env, h.d, err, 'ENOSPC');
    await h.env.close();
  });

  // Scenario: several transactions commit at once in 'sync' mode and share one group-commit
  // write, which fails with ENOSPC: every one of them rejects, none is visible or 'committed',
  // and only one log write was attempted (they really shared it).
  it('Scenario: sync, a group commit of several transactions shares one failed log write', async () => {
    const h = await setup('sync');
    const txns: Txn[] = [];
    for (let i = 0; i < 4; i++) {
      const t = h.env.begin();
      await t.put(h.d, enc(`g${i}`), enc('v'));
      txns.push(t);
    }
    const inj = failLog(h.storage, 'pwrite', 'ENOSPC');
    const errs = await Promise.all(txns.map((t) => rejection(t.commit())));
    expect(inj.seen).toHaveLength(1);
    for (const [i, t] of txns.entries()) {
      expect(errs[i], `txn ${i}`).toBe(h.env.failedWith);
      expect(t.state, `txn ${i}`).toBe('failed');
      expect(await inTree(h.d, `g${i}`), `txn ${i}`).toBeUndefined();
    }
    await expectFailedState(h.env, h.d, errs[0], 'ENOSPC');
    await h.env.close();
    inj.stop();
    expect(await rowsAfterReopen(h.open)).toEqual({ before: '1' });
  });

  // Scenario: the autocommit path (env.put / writeBatch) in 'sync' mode with the log fsync
  // failing on a disk that does not honour O_DSYNC is as strict: the batch rejects and none of
  // its rows is applied; after a crash that drops what was not synced, none is found.
  it('Scenario: sync, EIO at the log fsync of a writeBatch (no O_DSYNC)', async () => {
    const storage = new SimStorage({ seed: 12 });
    // A disk without O_DSYNC: every handle ignores the option, so commits need an fsync.
    const open0 = storage.open.bind(storage);
    storage.open = (path, mode) => open0(path, mode);
    const open = (o: Partial<EnvOptions> = {}) => Env.open('/env', { storage, clock: new VirtualClock(), durability: 'sync', checkpointPeriodMs: 0, owner: 'x', ...o });
    const env = await open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('before'), enc('1'));
    await env.checkpoint();
    const inj = failLog(storage, 'fsync', 'EIO');
    const err = await rejection(env.writeBatch([{ dict: d, op: 'insert', key: enc('a'), value: enc('1') }, { dict: d, op: 'insert', key: enc('b'), value: enc('2') }]));
    expect(inj.seen).toHaveLength(1);
    expect(await inTree(d, 'a')).toBeUndefined();
    expect(await inTree(d, 'b')).toBeUndefined();
    await expectFailedState(env, d, err, 'EIO');
    await env.close();
    inj.stop();
    storage.crash({ mode: 'drop-all' });
    expect(await rowsAfterReopen(open)).toEqual({ before: '1' });
  });

  // Scenario: in 'periodic' mode a commit that finds the last sync a period old syncs before it
  // is acknowledged; when that sync fails (ENOSPC at the write, EIO at the fsync) the commit
  // rejects and is never visible, and a crash afterwards leaves only what was synced.
  for (const [op, code] of [['pwrite', 'ENOSPC'], ['fsync', 'EIO']] as const) {
    it(`Scenario: periodic, ${code} at the log ${op} of the commit that must sync`, async () => {
      const clock = new StarvedClock();
      const h = await setup('periodic', { periodMs: 100 }, clock);
      await h.env.put(h.d, enc('quick'), enc('1')); // within the period: acknowledged unsynced
      expect(await h.env.get(h.d, enc('quick'))).toEqual(enc('1'));
      const inj = failLog(h.storage, op, code);
      clock.ms += 150;
      const t = h.env.begin();
      await t.put(h.d, enc('k'), enc('v'));
      const err = await rejection(t.commit());
      expect(inj.seen).toHaveLength(1);
      expect(t.state).toBe('failed');
      expect(await inTree(h.d, 'k')).toBeUndefined();
      await expectFailedState(h.env, h.d, err, code);
      await h.env.close();
      inj.stop();
      h.storage.crash({ mode: 'drop-all' });
      expect(await rowsAfterReopen(h.open)).toEqual({ before: '1' });
    });
  }

  // Scenario: in 'periodic' mode the background fsync timer fails (EIO); the very next commit
  // rejects with the failed-state error instead of being acknowledged, and is not visible.
  it('Scenario: periodic, the background fsync fails; the next commit rejects', async () => {
    const h = await setup('periodic', { periodMs: 100 });
    const clock = h.clock as VirtualClock;
    await h.env.put(h.d, enc('a'), enc('1'));
    const inj = failLog(h.storage, 'fsync', 'EIO');
    await clock.advance(150);
    expect(inj.seen).toHaveLength(1);
    const err = await rejection(h.env.put(h.d, enc('b'), enc('2')));
    expect(await inTree(h.d, 'b')).toBeUndefined();
    await expectFailedState(h.env, h.d, err, 'EIO');
    await h.env.close();
  });

  // Scenario: in 'none' mode a buffer-full log write fails in the background (ENOSPC); the
  // next commit after it rejects with the failed-state error and is not visible.
  it('Scenario: none, a background buffer-full log write fails; the next commit rejects', async () => {
    const h = await setup('none');
    const inj = failLog(h.storage, 'pwrite', 'ENOSPC');
    const big = new Uint8Array(1 << 20).fill(7);
    let acknowledged = 0;
    let err: unknown;
    for (let i = 0; i < 40 && err === undefined; i++) {
      if (inj.seen.length > 0) await new Promise((r) => setImmediate(r)); // let the failure land
      const key = `big${i}`;
      const failedBefore = inj.seen.length > 0;
      err = await rejection(h.env.put(h.d, enc(key), big));
      if (err === undefined) {
        acknowledged++;
        expect(failedBefore, `commit ${i} acknowledged after the failed write`).toBe(false);
      } else expect(await inTree(h.d, key)).toBeUndefined();
    }
    expect(inj.seen.length).toBeGreaterThan(0);
    expect(acknowledged).toBeGreaterThan(10); // the 16 MiB buffer filled first
    await expectFailedState(h.env, h.d, err, 'ENOSPC');
    await h.env.close();
  });
});

describe("engine: 'periodic' keeps its bound on the commit path", () => {
  // Property: with timers starved (a commit loop that never yields), the commits a crash loses
  // were all acknowledged within periodMs of each other, and everything older survives.
  it('Scenario: a non-yielding commit loop at 1 commit/ms, then a crash that drops everything unsynced', async () => {
    const clock = new StarvedClock();
    const h = await setup('periodic', { periodMs: 100 }, clock);
    const ackAt: number[] = [];
    for (let i = 0; i < 1000; i++) {
      clock.ms += 1;
      await h.env.put(h.d, enc(`n${String(i).padStart(4, '0')}`), enc(String(clock.ms)));
      ackAt.push(clock.nowMs());
    }
    h.env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const rows = await rowsAfterReopen(h.open);
    const kept = Object.keys(rows).filter((k) => k.startsWith('n')).sort();
    // Whole commits in order: what survives is a prefix.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => `n${String(i).padStart(4, '0')}`));
    const lost = ackAt.slice(kept.length);
    expect(kept.length).toBeGreaterThan(800);
    if (lost.length > 0) expect(lost[lost.length - 1]! - lost[0]!).toBeLessThan(100);
  });
});
