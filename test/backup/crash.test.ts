import { describe, expect, it } from 'vitest';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { Env } from '../../src/engine/env.js';
import { MachineHalted } from '../../src/storage/storage.js';
import type { SimStorage } from '../../src/storage/sim-storage.js';
import type { VirtualClock } from '../../src/storage/clock.js';
import { backupHarness, dumpDir, enc } from './helpers.js';

/** Crash points per search: every I/O when BACKUP_CRASH_ALL is set, else an even spread of this many. */
const SPREAD = process.env['BACKUP_CRASH_ALL'] !== undefined ? Infinity : 24;

function points(first: number, last: number): number[] {
  const n = last - first + 1;
  if (n <= SPREAD) return Array.from({ length: n }, (_, i) => first + i);
  return Array.from({ length: SPREAD }, (_, i) => first + Math.floor((i * (n - 1)) / (SPREAD - 1)));
}

const MODEL = (n: number): Record<string, string> => {
  const m: Record<string, string> = {};
  for (let i = 0; i < n; i++) m[`k${i}`] = `v${i}`;
  return m;
};

/** An environment of 40 committed rows on a fresh disk, closed. */
async function setup(): Promise<{ storage: SimStorage; clock: VirtualClock }> {
  const h = backupHarness(11);
  const env = await h.open();
  const t = await env.createDictionary('t');
  for (let i = 0; i < 40; i++) await env.put(t, enc(`k${i}`), enc(`v${i}`));
  await env.close();
  return { storage: h.storage, clock: h.clock };
}

async function crashIn(disk: SimStorage, at: number, work: () => Promise<unknown>): Promise<boolean> {
  disk.crashAtIo(at);
  try {
    await work();
    return false;
  } catch (err) {
    if (!(err instanceof MachineHalted)) throw err;
    return true;
  } finally {
    disk.crash({ seed: at });
  }
}

describe('backup: a crash at any I/O', () => {
  // Property: a crash at any I/O of a push leaves either no visible backup or a complete one that restores to the committed rows, and the environment recovers them too.
  it('Scenario: crash during push never leaves a visible incomplete backup', async () => {
    const base = await setup();
    // Measure the push's I/O range once.
    const probe = base.storage.snapshot();
    const e0 = await Env.open('/env', { storage: probe, clock: base.clock, checkpointPeriodMs: 0, owner: 'tester' });
    const start = probe.ioOps();
    await e0.backup(new BackupRepo(new LocalStore(probe, '/repo')), {});
    const end = probe.ioOps();
    await e0.close();
    let crashes = 0;
    for (const at of points(start + 1, end)) {
      const disk = base.storage.snapshot();
      const env = await Env.open('/env', { storage: disk, clock: base.clock, checkpointPeriodMs: 0, owner: 'tester' });
      const crashed = await crashIn(disk, disk.ioOps() + (at - start), () => env.backup(new BackupRepo(new LocalStore(disk, '/repo')), {}));
      if (crashed) crashes++;
      env.abandon();
      const repo = new BackupRepo(new LocalStore(disk, '/repo'));
      const names = await repo.names();
      expect(names.length, `crash at push I/O ${at}`).toBeLessThanOrEqual(1);
      if (names.length === 1) {
        await fetchBackup(repo, names[0]!, disk, '/r', { envOptions: { clock: base.clock, owner: 'tester' } });
        expect(await dumpDir(disk, base.clock, '/r'), `restore after crash at ${at}`).toEqual({ t: MODEL(40) });
      }
      expect(await dumpDir(disk, base.clock, '/env'), `env after crash at ${at}`).toEqual({ t: MODEL(40) });
    }
    expect(crashes).toBeGreaterThan(0);
  });

  // Property: a crash at any I/O of a fetch leaves DEST refused by Env.open (or complete); a second fetch into it finishes and restores the committed rows.
  it('Scenario: crash during fetch; DEST never opens half restored, and a rerun completes it', async () => {
    const base = await setup();
    const env = await Env.open('/env', { storage: base.storage, clock: base.clock, checkpointPeriodMs: 0, owner: 'tester' });
    await env.backup(new BackupRepo(new LocalStore(base.storage, '/repo')), {});
    await env.close();
    const probe = base.storage.snapshot();
    const start = probe.ioOps();
    await fetchBackup(new BackupRepo(new LocalStore(probe, '/repo')), 'LATEST', probe, '/r', { envOptions: { clock: base.clock, owner: 'tester' } });
    const end = probe.ioOps();
    for (const at of points(start + 1, end)) {
      const disk = base.storage.snapshot();
      const repo = new BackupRepo(new LocalStore(disk, '/repo'));
      const crashed = await crashIn(disk, disk.ioOps() + (at - start), () => fetchBackup(repo, 'LATEST', disk, '/r', { envOptions: { clock: base.clock, owner: 'tester' } }));
      expect(crashed || at > end).toBe(true);
      // Whatever DEST holds now either opens with every committed row, or is refused by
      // Env.open and accepted by a second fetch.
      // (A missing or empty DEST is left alone: Env.open would create a new environment there.)
      let opened: Env | undefined;
      const empty = !(await disk.exists('/r')) || (await disk.list('/r')).length === 0;
      if (!empty) try {
        opened = await Env.open('/r', { storage: disk, clock: base.clock, checkpointPeriodMs: 0, owner: 'tester' });
      } catch {
        opened = undefined;
      }
      if (opened !== undefined) {
        await opened.close();
      } else {
        await fetchBackup(new BackupRepo(new LocalStore(disk, '/repo')), 'LATEST', disk, '/r', { envOptions: { clock: base.clock, owner: 'tester' } });
      }
      expect(await dumpDir(disk, base.clock, '/r'), `restore after crash at fetch I/O ${at}`).toEqual({ t: MODEL(40) });
    }
  });
});
