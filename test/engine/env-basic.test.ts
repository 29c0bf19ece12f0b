import { describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { LogCursor } from '../../src/log/cursor.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function allRecords(storage: SimStorage, dir: string) {
  const c = await LogCursor.open(storage, dir);
  const out = [];
  for (let e = await c.next(); e !== undefined; e = await c.next()) out.push(e.record);
  await c.close();
  return out;
}

function newEnv(storage = new SimStorage(), clock = new VirtualClock()) {
  return { storage, clock, open: (o: object = {}) => Env.open('/env', { storage, clock, checkpointPeriodMs: 0, ...o }) };
}

describe('engine: basic API', () => {
  // Scenario: a new environment, one dictionary, a committed txn; a clean close and reopen skips recovery.
  it('Scenario: put/get/del commit, clean close writes shutdown, reopen sees the data without recovery', async () => {
    const h = newEnv();
    const env = await h.open();
    const d = await env.createDictionary('users');
    const t = env.begin();
    await t.put(d, enc('a'), enc('1'));
    await t.put(d, enc('b'), enc('2'));
    await t.del(d, enc('a'));
    expect(dec(await t.get(d, enc('b')))).toBe('2');
    expect(await env.get(d, enc('b'))).toBeUndefined();
    await t.commit();
    expect(dec(await env.get(d, enc('b')))).toBe('2');
    expect(await env.get(d, enc('a'))).toBeUndefined();
    await env.close();
    const recs = await allRecords(h.storage, '/env');
    expect(recs[recs.length - 1]!.type).toBe('shutdown');
    const env2 = await h.open();
    expect(env2.recoveryReport).toBeNull();
    const d2 = await env2.openDictionary('users');
    expect(dec(await env2.get(d2, enc('b')))).toBe('2');
    expect(await env2.listDictionaries()).toEqual(['users']);
    await env2.close();
  });
});
