import { describe, expect, it } from 'vitest';
import { readHeaderSlots } from '../../src/blocks/dictionary-file.js';
import type { CrashHookName } from '../../src/checkpoint/events.js';
import { Env, type EnvOptions } from '../../src/engine/env.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { SimStorage, SimulatedCrash } from '../../src/storage/sim-storage.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Options whose checkpoint crashes the disk at `hook` (once) when `armed.on`. */
function options(disk: SimStorage, armed: { on: boolean }, hook: CrashHookName): EnvOptions {
  return {
    storage: disk, clock: new VirtualClock(), durability: 'sync', checkpointPeriodMs: 0, owner: 'rollback-slot', maxEntries: 4,
    checkpointHooks: {
      [hook]: () => {
        if (!armed.on) return;
        armed.on = false;
        disk.crashAtIo(disk.ioOps() + 1);
        throw new SimulatedCrash(disk.ioOps(), `crash at ${hook}`);
      },
    },
  };
}

async function rollbackSlotLsns(disk: SimStorage): Promise<bigint[]> {
  const f = await disk.open('/env/tokudb.rollback', 'read');
  try {
    return (await readHeaderSlots(f, 'tokudb.rollback')).filter((s) => s.status === 'ok').map((s) => s.header!.checkpointLsn).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } finally {
    await f.close();
  }
}

describe('sim: recovery keeps the turning point header of tokudb.rollback', () => {
  // Scenario: checkpoint C2 writes its headers and crashes before end_checkpoint; recovery
  // turns around at C1 and its own checkpoint C3 crashes the same way. C3 must overwrite C2's
  // rollback header slot (as PerconaFT does by opening rollback at max_acceptable_lsn = C1),
  // not C1's, or the next recovery finds no rollback header at or before its turning point.
  it('Scenario: two checkpoints crash after their headers; the third open still recovers every commit', async () => {
    const disk = new SimStorage({ seed: 5 });
    const armed = { on: false };
    const hook: CrashHookName = 'afterHeadersBeforeEndCheckpoint';
    const env = await Env.open('/env', options(disk, armed, hook));
    const d = await env.createDictionary('d0');
    for (let i = 0; i < 5; i++) await env.put(d, enc.encode(`k${i}`), enc.encode(`v${i}`));
    await env.checkpoint(); // C1, complete
    // A transaction with a rollback node, so C2 writes a new tokudb.rollback header.
    const t = env.begin();
    await t.put(d, enc.encode('k5'), enc.encode('v5'));
    await t.commit();
    armed.on = true;
    await expect(env.checkpoint()).rejects.toBeInstanceOf(SimulatedCrash); // C2
    env.abandon();
    disk.crash({ mode: 'drop-all' });
    const c1c2 = await rollbackSlotLsns(disk);
    expect(c1c2.length).toBe(2);
    expect(c1c2[0]).toBeGreaterThan(0n);

    // Recovery's own checkpoint (C3) crashes after writing its headers.
    armed.on = true;
    await expect(Env.open('/env', options(disk, armed, hook))).rejects.toBeInstanceOf(SimulatedCrash);
    disk.crash({ mode: 'drop-all' });
    const after = await rollbackSlotLsns(disk);
    // C1's slot survived; C2's was overwritten by C3.
    expect(after).toContain(c1c2[0]);
    expect(after).not.toContain(c1c2[1]);

    const again = await Env.open('/env', options(disk, armed, hook));
    try {
      const rows = await (await again.openDictionary('d0')).committedRange({});
      expect(rows.map((r) => `${dec.decode(r.key)}=${dec.decode(r.value)}`)).toEqual(['k0=v0', 'k1=v1', 'k2=v2', 'k3=v3', 'k4=v4', 'k5=v5']);
    } finally {
      await again.close();
    }
  });
});
