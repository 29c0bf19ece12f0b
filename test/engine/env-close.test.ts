import { describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { LogCursor } from '../../src/log/cursor.js';
import { rejection } from '../support/rejection.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function harness() {
  const storage = new SimStorage();
  const clock = new VirtualClock();
  return { storage, open: () => Env.open('/env', { storage, clock, checkpointPeriodMs: 0 }) };
}

async function recordTypes(storage: SimStorage): Promise<string[]> {
  const c = await LogCursor.open(storage, '/env');
  const out: string[] = [];
  for (let e = await c.next(); e !== undefined; e = await c.next()) out.push(e.record.type);
  await c.close();
  return out;
}

describe('engine: close with live transactions and await using', () => {
  // Scenario: close() meets a live transaction: it rejects naming it, writes nothing, and the transaction can still commit; a second close succeeds.
  it('Scenario: close rejects while a transaction is live, and the transaction survives', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    const t = env.begin();
    await t.put(d, enc('k'), enc('v'));
    const before = (await recordTypes(h.storage)).length;
    const err = await rejection(env.close());
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).code).toBe('TOKUSIM_LIVE_TRANSACTIONS');
    expect((err as Error).message).toMatch(new RegExp(`txn ${t.id}\\b`));
    expect(env.isClosed).toBe(false);
    expect(t.state).toBe('live');
    expect((await recordTypes(h.storage)).length).toBe(before); // no xabort, checkpoint or shutdown logged
    await t.commit();
    await env.close();
    const env2 = await h.open();
    expect(dec(await env2.get(await env2.openDictionary('t'), enc('k')))).toBe('v');
    await env2.close();
  });

  // Scenario: a live transaction that only read holds nothing to lose: close ends it and closes cleanly without abortLive.
  it('Scenario: close ends a read-only live transaction without the option', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('a'), enc('1'));
    const reader = env.begin();
    expect((await reader.range(d)).length).toBe(1);
    await env.close();
    expect(env.isClosed).toBe(true);
    const types = await recordTypes(h.storage);
    expect(types[types.length - 1]).toBe('shutdown');
  });

  // Scenario: close({ abortLive: true }) aborts the live transaction (logged as xabort), then closes cleanly; the write is gone after reopen.
  it('Scenario: close with abortLive aborts the live transaction explicitly', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('kept'), enc('1'));
    const t = env.begin();
    await t.put(d, enc('k'), enc('v'));
    await env.close({ abortLive: true });
    expect(t.state).toBe('aborted');
    const types = await recordTypes(h.storage);
    expect(types).toContain('xabort');
    expect(types[types.length - 1]).toBe('shutdown');
    const env2 = await h.open();
    const d2 = await env2.openDictionary('t');
    expect(await env2.get(d2, enc('k'))).toBeUndefined();
    expect(dec(await env2.get(d2, enc('kept')))).toBe('1');
    await env2.close();
  });

  // Scenario: `await using` closes the environment at the end of the scope (lock released, shutdown logged), so the next open succeeds.
  it('Scenario: await using closes the environment at the end of its scope', async () => {
    const h = harness();
    let seen: Env | undefined;
    {
      await using env = await h.open();
      seen = env;
      await env.put(await env.createDictionary('t'), enc('a'), enc('1'));
    }
    expect(seen.isClosed).toBe(true);
    const types = await recordTypes(h.storage);
    expect(types[types.length - 1]).toBe('shutdown');
    const env2 = await h.open(); // the lock was released
    expect(dec(await env2.get(await env2.openDictionary('t'), enc('a')))).toBe('1');
    await env2.close();
  });

  // Scenario: leaving an `await using` scope with a live transaction raises the close error instead of aborting it silently.
  it('Scenario: await using with a live transaction rejects at scope end', async () => {
    const h = harness();
    let env0: Env | undefined;
    let live: ReturnType<Env['begin']> | undefined;
    const body = async (): Promise<void> => {
      await using env = await h.open();
      env0 = env;
      const d = await env.createDictionary('t');
      live = env.begin();
      await live.put(d, enc('k'), enc('v'));
    };
    const err = await rejection(body());
    expect((err as TokusimError).code).toBe('TOKUSIM_LIVE_TRANSACTIONS');
    expect(live!.state).toBe('live');
    await live!.abort();
    await env0!.close();
    expect(env0!.isClosed).toBe(true);
  });
});
