/**
 * The read-only inspection views the teaching mode shows are the library's own fields: taken
 * in the middle of a checkpoint (paused after its begin), every PAIR view matches its Pair,
 * the pending list matches the cachetable's, and each dictionary's translations match its
 * BlockTable's snapshots.
 */
import { describe, expect, it } from 'vitest';
import { inspectCachetable } from '../../src/cachetable/inspect.js';
import { inspectDictionary, inspectGlobalLocks } from '../../src/checkpoint/inspect.js';
import { Env } from '../../src/engine/env.js';
import { envDictionaries } from '../../src/teach/snapshot.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

const enc = new TextEncoder();

describe('teach: inspection views', () => {
  it('Scenario: views taken while a checkpoint is paused after begin equal the library fields', async () => {
    let env: Env | undefined;
    let armed = false;
    let checked = 0;
    const hooks = {
      afterBegin: () => {
        // Only the checkpoint after the commit below is checked (not those open and create take).
        if (env === undefined || !armed) return;
        const v = inspectCachetable(env.ct);
        const pairs = env.ct.pairs();
        expect(v.pairs).toHaveLength(pairs.length);
        for (const p of pairs) {
          const pv = v.pairs.find((x) => x.cachefile === p.cachefile.name && x.blocknum === String(p.blocknum))!;
          expect([pv.dirty, pv.checkpointPending, pv.cloned, pv.pinCount, pv.onPendingList, pv.size]).toEqual([p.dirty, p.checkpointPending, p.clone !== null, p.pinCount, p.onPendingList, p.size]);
        }
        expect(v.pairs.some((p) => p.checkpointPending), 'some PAIR is pending').toBe(true);
        expect(v.pendingList).toEqual(env.ct.pendingPairs().map((p) => `${p.cachefile.name}:${p.blocknum}`));
        const g = inspectGlobalLocks(env.locks);
        expect(g.find((l) => l.lock === 'checkpointSafe')!.writer, 'CS held').toBe(true);
        expect(g.find((l) => l.lock === 'mo')!.writer).toBe(false);
        for (const d of envDictionaries(env)) {
          const dv = inspectDictionary(d);
          const cur = d.file.blockTable.snapshot('current')!;
          for (const e of dv.translations.current.entries) {
            expect([e.diskoff, e.size]).toEqual([String(cur.diskoffs[e.blocknum]), String(cur.sizes[e.blocknum])]);
          }
          expect(dv.translations.inprogress).not.toBeNull();
          expect(dv.checkpointHeader?.checkpointLsn).toBe(String(d.checkpointHeader!.checkpointLsn));
        }
        checked++;
      },
    };
    env = await Env.open('/env', { storage: new SimStorage({ seed: 5 }), clock: new VirtualClock(), owner: 'inspect-test', checkpointPeriodMs: 0, maxEntries: 4, checkpointHooks: hooks });
    const d = await env.createDictionary('d');
    const t = env.begin();
    for (const k of ['a', 'b', 'c', 'd', 'e']) await t.put(d, enc.encode(k), enc.encode(k));
    await t.commit();
    armed = true;
    await env.checkpoint();
    armed = false;
    expect(checked).toBe(1);
    await env.close();
  });
});
