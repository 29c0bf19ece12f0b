import { describe, expect, it } from 'vitest';
import { Env } from '../../src/engine/env.js';
import { SimStorage, SimulatedCrash } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { readHeaderSlots } from '../../src/blocks/dictionary-file.js';
import { HeaderError } from '../../src/format/ft-header.js';
import { readContents } from '../../src/sim/runner.js';
import { formatState } from '../../src/sim/model.js';

const enc = (s: string) => new TextEncoder().encode(s);
const fail = (m: string): never => {
  throw new Error(m);
};

/** d0 with two checkpoints, more commits, then a crash after C3's headers and before its end_checkpoint. */
async function crashedDisk(): Promise<SimStorage> {
  const storage = new SimStorage({ seed: 11 });
  const hooks: Record<string, () => void> = {};
  const env = await Env.open('/env', { storage, clock: new VirtualClock(), durability: 'sync', checkpointPeriodMs: 0, owner: 'h', lgMax: 1 << 20, checkpointHooks: hooks });
  const d = await env.createDictionary('d0');
  for (let i = 0; i < 3; i++) await env.put(d, enc(`k${i}`), enc(String(i)));
  await env.checkpoint();
  await env.put(d, enc('k1'), enc('11'));
  await env.del(d, enc('k2'));
  await env.checkpoint();
  await env.put(d, enc('k3'), enc('3'));
  hooks['afterHeadersBeforeEndCheckpoint'] = () => {
    throw new SimulatedCrash(storage.ioOps(), 'crash before end_checkpoint');
  };
  await expect(env.checkpoint()).rejects.toBeInstanceOf(SimulatedCrash);
  env.abandon();
  storage.crash({ mode: 'keep-all' });
  return storage;
}

async function slotsOf(disk: SimStorage, path: string) {
  const f = await disk.open(path, 'read');
  try {
    return await readHeaderSlots(f, path);
  } finally {
    await f.close();
  }
}

async function recovered(disk: SimStorage): Promise<string> {
  const env = await Env.open('/env', { storage: disk, clock: new VirtualClock(), durability: 'sync', checkpointPeriodMs: 0, owner: 'h' });
  try {
    return formatState(await readContents(env, fail));
  } finally {
    await env.close();
  }
}

describe('sim: header-slot damage (ft-file-header.md §7.4)', () => {
  // Scenario: the newest header slot of a dictionary is torn; recovery takes the older
  // checkpoint and replays the log, ending with the same contents as with both slots intact.
  it('Scenario: newest slot corrupted -> older checkpoint plus log replay gives the same final contents', async () => {
    const base = await crashedDisk();
    const file = (await base.list('/env')).find((n) => /^d0_\d+\.tokudb$/.test(n))!;
    const path = `/env/${file}`;
    const intact = await recovered(base.snapshot());
    expect(intact).toBe('d0{k0=0,k1=11,k3=3}');
    const damaged = base.snapshot();
    const slots = await slotsOf(damaged, path);
    expect(slots.every((s) => s.status === 'ok')).toBe(true);
    const newest = slots[0].header!.checkpointCount > slots[1].header!.checkpointCount ? 0 : 1;
    damaged.flipBits(path, newest * 4096 + 40, 16, 3);
    const after = await slotsOf(damaged, path);
    expect(after[newest].status).toBe('bad-checksum');
    expect(after[1 - newest].status).toBe('ok');
    expect(await recovered(damaged)).toBe(intact);
  });

  // Scenario: both slots are damaged: opening fails with the documented error, naming the file.
  it('Scenario: both slots corrupt -> "both header checksums failed" (bad-header, PerconaFT BAD_CHECKSUM)', async () => {
    const disk = await crashedDisk();
    const file = (await disk.list('/env')).find((n) => /^d0_\d+\.tokudb$/.test(n))!;
    const path = `/env/${file}`;
    disk.flipBits(path, 40, 16, 1);
    disk.flipBits(path, 4096 + 40, 16, 2);
    let err: unknown;
    try {
      await Env.open('/env', { storage: disk, clock: new VirtualClock(), durability: 'sync', checkpointPeriodMs: 0, owner: 'h' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeaderError);
    expect((err as HeaderError).kind).toBe('bad-header');
    expect((err as HeaderError).message).toContain('both header checksums failed');
    expect((err as HeaderError).where.file).toBe(path);
  });
});
