import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Env } from '../../src/engine/env.js';
import { LockConflictError } from '../../src/engine/locktree.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function rows(env: Env, name: string): Promise<Record<string, string>> {
  const d = await env.openDictionary(name);
  const out: Record<string, string> = {};
  for (const e of await d.committedRange({})) out[dec(e.key)] = dec(e.value);
  return out;
}

describe('engine: writeBatch (the autocommit fast path)', () => {
  // Scenario: a batch touching a row another live txn has written fails at once with LockConflictError and logs nothing.
  it('Scenario: a conflicting batch logs and applies nothing', async () => {
    const env = await Env.open('/env', { storage: new SimStorage({ seed: 1 }), clock: new VirtualClock(), checkpointPeriodMs: 0, owner: 'wb' });
    const d = await env.createDictionary('t');
    const t = env.begin();
    await t.put(d, enc('b'), enc('txn'));
    const lsn = env.status().log!.lastLsn;
    await expect(env.writeBatch([{ dict: d, op: 'insert', key: enc('a'), value: enc('1') }, { dict: d, op: 'insert', key: enc('b'), value: enc('2') }])).rejects.toBeInstanceOf(LockConflictError);
    expect(env.status().log!.lastLsn).toBe(lsn);
    expect(await rows(env, 't')).toEqual({});
    // Its row locks were released: after the txn ends, the same batch goes through.
    await t.abort();
    await env.writeBatch([{ dict: d, op: 'insert', key: enc('a'), value: enc('1') }, { dict: d, op: 'delete', key: enc('b') }]);
    expect(await rows(env, 't')).toEqual({ a: '1' });
    await env.close();
  });

  // Property: batches racing checkpoints, then a crash with random fates of unsynced writes, recover to a
  // state where every batch is either wholly present or wholly absent, and with 'sync' every batch that returned is present.
  it('Scenario: batches during checkpoints survive a crash whole', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom('sync' as const, 'none' as const), fc.integer({ min: 2, max: 12 }), async (seed, durability, n) => {
        const storage = new SimStorage({ seed });
        const clock = new VirtualClock();
        const env = await Env.open('/env', { storage, clock, durability, checkpointPeriodMs: 0, owner: 'wb' });
        const d = await env.createDictionary('t');
        const done: number[] = [];
        const batches = Array.from({ length: n }, (_, i) =>
          env.writeBatch([0, 1, 2].map((j) => ({ dict: d, op: 'insert' as const, key: enc(`b${i}-${j}`), value: enc(String(i)) }))).then(() => done.push(i)),
        );
        const cps = [env.checkpoint(), env.checkpoint()];
        await Promise.all([...batches, ...cps]);
        env.abandon();
        storage.crash({ mode: 'faults', seed });
        const env2 = await Env.open('/env', { storage, clock, durability, checkpointPeriodMs: 0, owner: 'wb' });
        const got = await rows(env2, 't');
        for (let i = 0; i < n; i++) {
          const present = [0, 1, 2].filter((j) => got[`b${i}-${j}`] === String(i)).length;
          expect([0, 3]).toContain(present);
          if (durability === 'sync') expect(present).toBe(3);
        }
        expect(Object.keys(got).length % 3).toBe(0);
        await env2.close();
      }),
      { numRuns: 25 },
    );
  });
});
