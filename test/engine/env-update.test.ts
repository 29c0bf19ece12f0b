import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Env, type EnvOptions } from '../../src/engine/env.js';
import { LockConflictError } from '../../src/engine/locktree.js';
import { BUILTIN_UPDATE_FUNCTIONS, UpdateRegistry, decodeUpdateExtra, encodeUpdateExtra } from '../../src/engine/update-functions.js';
import { TokusimError } from '../../src/base/errors.js';
import { clearPlantedBugs, plantBug } from '../../src/base/bug-switches.js';
import { LogCursor } from '../../src/log/cursor.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function harness() {
  const storage = new SimStorage({ seed: 11 });
  const clock = new VirtualClock();
  const open = (o: Partial<EnvOptions> = {}) => Env.open('/env', { storage, clock, durability: 'sync', checkpointPeriodMs: 0, owner: 'upd', ...o });
  return { storage, clock, open };
}

async function records(storage: SimStorage) {
  const c = await LogCursor.open(storage, '/env');
  const out = [];
  for (let e = await c.next(); e !== undefined; e = await c.next()) out.push(e.record);
  await c.close();
  return out;
}

afterEach(() => clearPlantedBugs());

describe('engine: update functions (enq_update)', () => {
  // Property: the extra of an update names its function and carries its argument unchanged.
  it('Scenario: decodeUpdateExtra inverts encodeUpdateExtra', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_]{1,20}$/), fc.uint8Array({ maxLength: 40 }), (name, arg) => {
        const back = decodeUpdateExtra(encodeUpdateExtra(name, arg));
        expect(back.name).toBe(name);
        expect([...back.arg]).toEqual([...arg]);
      }),
    );
    expect(() => decodeUpdateExtra(enc('no-nul'))).toThrow(TokusimError);
  });

  it('Scenario: the built-ins add decimal integers and append bytes; bad input is a TokusimError', () => {
    const r = new UpdateRegistry();
    expect(dec(r.apply('add', undefined, enc('5')))).toBe('5');
    expect(dec(r.apply('add', enc('-3'), enc('10')))).toBe('7');
    expect(dec(r.apply('append', enc('ab'), enc('cd')))).toBe('abcd');
    expect(dec(r.apply('append', undefined, enc('cd')))).toBe('cd');
    expect(() => r.apply('add', enc('x1'), enc('1'))).toThrow(/not a decimal integer/);
    expect(() => r.apply('nope', undefined, enc('1'))).toThrow(/unknown update function 'nope'/);
    expect(Object.keys(BUILTIN_UPDATE_FUNCTIONS).sort()).toEqual(['add', 'append']);
  });

  // Scenario: an update is visible to its own txn at once, to others only after commit, holds the
  // row lock, and is logged as enq_update naming its function.
  it('Scenario: txn.update is read-your-writes, locked, applied at commit and logged as enq_update', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('n'), enc('10'));
    const t = env.begin();
    await t.update(d, enc('n'), enc('5'));
    await t.update(d, enc('n'), enc('2'), 'add');
    await t.update(d, enc('s'), enc('x'), 'append');
    await t.update(d, enc('s'), enc('y'), 'append');
    expect(dec(await t.get(d, enc('n')))).toBe('17');
    expect(dec(await t.get(d, enc('s')))).toBe('xy');
    expect(dec(await env.get(d, enc('n')))).toBe('10');
    const other = env.begin();
    await expect(other.update(d, enc('n'), enc('1'))).rejects.toBeInstanceOf(LockConflictError);
    await other.abort();
    await t.commit();
    expect(dec(await env.get(d, enc('n')))).toBe('17');
    expect(dec(await env.get(d, enc('s')))).toBe('xy');
    await env.update(d, enc('n'), enc('3'));
    expect(dec(await env.get(d, enc('n')))).toBe('20');
    const ups = (await records(h.storage)).filter((r) => r.type === 'enq_update');
    expect(ups.length).toBe(5);
    expect(ups.map((r) => (r.type === 'enq_update' ? decodeUpdateExtra(r.extra).name : ''))).toEqual(['add', 'add', 'append', 'append', 'add']);
    await env.close();
  });

  it('Scenario: an application function that returns undefined deletes; a failing update logs nothing', async () => {
    const h = harness();
    const env = await h.open({ updateFunctions: { drop: () => undefined } });
    const d = await env.createDictionary('t');
    await env.put(d, enc('a'), enc('1'));
    const before = (await records(h.storage)).length;
    const t = env.begin();
    await expect(t.update(d, enc('a'), enc('zz'))).rejects.toThrow(/not a decimal integer/);
    await expect(t.update(d, enc('a'), enc('1'), 'missing')).rejects.toThrow(/unknown update function/);
    expect((await records(h.storage)).length).toBe(before);
    await t.update(d, enc('a'), new Uint8Array(0), 'drop');
    expect(await t.get(d, enc('a'))).toBeUndefined();
    await t.commit();
    expect(await env.get(d, enc('a'))).toBeUndefined();
    await env.close();
  });

  // Scenario: committed updates survive a crash and are applied exactly once by replay, including
  // updates made by a txn that was live at the last checkpoint and one that aborted.
  it('Scenario: recovery replays updates once; an aborted update leaves no trace', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.update(d, enc('c'), enc('1'));
    const live = env.begin();
    await live.update(d, enc('c'), enc('10'));
    await env.checkpoint(); // live's update is in its rollback node
    await live.update(d, enc('c'), enc('100'));
    await live.commit();
    const gone = env.begin();
    await gone.update(d, enc('g'), enc('7'));
    await gone.abort();
    await env.update(d, enc('c'), enc('1000'));
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    expect(env2.recoveryReport).not.toBeNull();
    const d2 = await env2.openDictionary('t');
    expect(dec(await env2.get(d2, enc('c')))).toBe('1111');
    expect(await env2.get(d2, enc('g'))).toBeUndefined();
    await env2.close();
  });

  // Scenario: a crash after the headers of a checkpoint were written but before its
  // end_checkpoint: recovery replays from the previous checkpoint, and the update committed
  // between the two begins is already in the dictionary's newer header. The LSN filter skips
  // it; with the planted bug replay-ignores-checkpoint-lsn it is applied twice.
  for (const planted of [false, true]) {
    it(`Scenario: an update already in a newer header is ${planted ? 'applied twice with the planted bug' : 'not applied again (LSN filter)'}`, async () => {
      const h = harness();
      let armed = false;
      const env = await h.open({
        checkpointHooks: {
          afterHeadersBeforeEndCheckpoint: () => {
            if (armed) throw new Error('simulated crash after headers');
          },
        },
      });
      const d = await env.createDictionary('t');
      await env.put(d, enc('c'), enc('40'));
      await env.checkpoint();
      await env.update(d, enc('c'), enc('2'));
      armed = true;
      await expect(env.checkpoint()).rejects.toThrow(/simulated crash/);
      env.abandon();
      h.storage.crash({ mode: 'drop-all' });
      if (planted) plantBug('replay-ignores-checkpoint-lsn');
      const env2 = await h.open();
      const d2 = await env2.openDictionary('t');
      expect(dec(await env2.get(d2, enc('c')))).toBe(planted ? '44' : '42');
      await env2.close();
    });
  }

  it('Scenario: reopening without the application function the log names is a recovery error', async () => {
    const h = harness();
    const env = await h.open({ updateFunctions: { twice: (old) => (old === undefined ? enc('1') : enc(dec(old)! + dec(old)!)) } });
    const d = await env.createDictionary('t');
    await env.update(d, enc('k'), new Uint8Array(0), 'twice');
    await env.update(d, enc('k'), new Uint8Array(0), 'twice');
    expect(dec(await env.get(d, enc('k')))).toBe('11');
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const err = await h.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).kind).toBe('recovery');
    expect((err as TokusimError).message).toMatch(/unknown update function 'twice'/);
    const env3 = await h.open({ updateFunctions: { twice: (old) => (old === undefined ? enc('1') : enc(dec(old)! + dec(old)!)) } });
    expect(dec(await env3.get(await env3.openDictionary('t'), enc('k')))).toBe('11');
    await env3.close();
  });
});
