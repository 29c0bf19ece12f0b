import { describe, expect, it } from 'vitest';
import { archiveClosedLogs, archivedLogs } from '../../src/backup/archive.js';
import { executeDelete, planDelete } from '../../src/backup/delete.js';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { Env } from '../../src/engine/env.js';
import type { VirtualClock } from '../../src/storage/clock.js';
import type { SimStorage } from '../../src/storage/sim-storage.js';
import { MachineHalted } from '../../src/storage/storage.js';
import { backupHarness, dumpAll, dumpDir, enc, repoWithArchive } from './helpers.js';

/** Crash points per search: every I/O when BACKUP_CRASH_ALL is set, else an even spread of this many. */
const SPREAD = process.env['BACKUP_CRASH_ALL'] !== undefined ? Infinity : 12;

function points(first: number, last: number): number[] {
  const n = last - first + 1;
  if (n <= SPREAD) return Array.from({ length: n }, (_, i) => first + i);
  return Array.from({ length: SPREAD }, (_, i) => first + Math.floor((i * (n - 1)) / (SPREAD - 1)));
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

const open = (disk: SimStorage, clock: VirtualClock, o: object = {}) => Env.open('/env', { storage: disk, clock, durability: 'sync', checkpointPeriodMs: 0, owner: 'tester', lgMax: 2048, ...o });

/** For each spread I/O point of work (measured once on a snapshot of base), crash there on a fresh snapshot and check. */
async function crashSearch(base: SimStorage, work: (disk: SimStorage) => Promise<unknown>, check: (disk: SimStorage, at: number, crashed: boolean) => Promise<void>): Promise<number> {
  const probe = base.snapshot();
  const start = probe.ioOps();
  await work(probe);
  const end = probe.ioOps();
  let crashes = 0;
  for (const at of points(start + 1, end)) {
    const disk = base.snapshot();
    const crashed = await crashIn(disk, disk.ioOps() + (at - start), () => work(disk));
    if (crashed) crashes++;
    await check(disk, at, crashed);
  }
  return crashes;
}

describe('backup: crashes during a push under load, archive and delete', () => {
  // Property: a crash at any I/O of a push while a client commits leaves a visible backup only if it is complete, and it restores to a prefix of the client's commits; the environment keeps every acknowledged commit.
  it('Scenario: crash during a push while a client writes', async () => {
    const h = backupHarness(31);
    const env0 = await open(h.storage, h.clock);
    const t0 = await env0.createDictionary('t');
    for (let i = 0; i < 60; i++) await env0.put(t0, enc(`k${i}`), enc(`v${i}`));
    await env0.close();
    const crashes = await crashSearch(
      h.storage,
      async (disk) => {
        acked.n = 0;
        const env = await open(disk, h.clock);
        const t = await env.openDictionary('t');
        let stop = false;
        let n = 0;
        const writer = (async () => {
          while (!stop && n < 200) {
            await env.put(t, enc(`k${n % 60}`), enc(`w${n}`));
            n++;
            acked.n = n;
          }
        })();
        try {
          await env.backup(new BackupRepo(new LocalStore(disk, '/repo')), {});
        } finally {
          stop = true;
          await writer.catch(() => undefined);
        }
        env.abandon();
      },
      async (disk, at) => {
        const acknowledged = acked.n;
        const model = (upto: number) => {
          const m: Record<string, string> = {};
          for (let i = 0; i < 60; i++) m[`k${i}`] = `v${i}`;
          for (let w = 0; w < upto; w++) m[`k${w % 60}`] = `w${w}`;
          return m;
        };
        const prefixOf = (rows: Record<string, string>) => Math.max(0, ...Object.values(rows).filter((v) => v.startsWith('w')).map((v) => Number(v.slice(1)) + 1));
        const env = (await dumpDir(disk, h.clock, '/env'))['t']!;
        // Every acknowledged commit survives the crash, and the state is a prefix of the writes.
        expect(prefixOf(env), `env after crash at ${at}`).toBeGreaterThanOrEqual(acknowledged);
        expect(env, `env after crash at ${at}`).toEqual(model(prefixOf(env)));
        const repo = new BackupRepo(new LocalStore(disk, '/repo'));
        const names = await repo.names();
        expect(names.length).toBeLessThanOrEqual(1);
        seen.maxAcked = Math.max(seen.maxAcked, acknowledged);
        if (names.length === 1) {
          seen.restored++;
          await fetchBackup(repo, names[0]!, disk, '/r', { envOptions: { clock: h.clock, owner: 'tester' } });
          const r = (await dumpDir(disk, h.clock, '/r'))['t']!;
          expect(r, `restore after crash at ${at}`).toEqual(model(prefixOf(r)));
        }
      },
    );
    expect(crashes).toBeGreaterThan(0);
    // The client did commit during pushes, and some crashes came after a backup was visible.
    expect(seen.maxAcked).toBeGreaterThan(0);
    expect(seen.restored).toBeGreaterThan(0);
  });

  // Property: a crash at any I/O of `log archive` leaves an archive whose every listed file is whole (verify finds nothing), a rerun completes it, and PITR from the backup to the end of the archive restores every commit.
  it('Scenario: crash during log archive', async () => {
    const h = backupHarness(32);
    const env = await open(h.storage, h.clock);
    const t = await env.createDictionary('t');
    await env.put(t, enc('a'), enc('0'));
    const m = await env.backup(new BackupRepo(new LocalStore(h.storage, '/repo')), {});
    for (let i = 0; i < 40; i++) await env.put(t, enc(`k${i}`), enc('x'.repeat(60)));
    const target = env.status().log!.lastLsn;
    const live = await dumpAll(env);
    env.abandon();
    h.storage.crash({ seed: 1 });
    const crashes = await crashSearch(
      h.storage,
      (disk) => archiveClosedLogs(new LocalStore(disk, '/repo'), disk, '/env'),
      async (disk, at) => {
        const repo = new BackupRepo(new LocalStore(disk, '/repo'));
        expect((await verifyRepo(repo, undefined)).problems, `archive after crash at ${at}`).toEqual([]);
        await archiveClosedLogs(repo.store, disk, '/env');
        // The newest log file is never archived (it may still grow): restore to the archive's reach.
        const last = (await archivedLogs(repo.store)).at(-1)!.lastLsn;
        expect(BigInt(last)).toBeLessThanOrEqual(target);
        await fetchBackup(repo, m.name, disk, '/r', { untilLsn: BigInt(last), envOptions: { clock: h.clock, owner: 'tester' } });
        const r = (await dumpDir(disk, h.clock, '/r'))['t']!;
        // A prefix of the committed rows, every row up to the archive's reach.
        for (const [k, v] of Object.entries(r)) expect(live['t']![k], k).toBe(v);
        expect(Object.keys(r).length).toBeGreaterThan(1);
      },
    );
    expect(crashes).toBeGreaterThan(0);
  });

  // Property: a crash at any I/O of `delete retain 1 --confirm` leaves every backup it was to keep visible and restorable, verify clean, and a rerun finishes the deletion.
  it('Scenario: crash during delete', async () => {
    const h = backupHarness(33);
    const env = await open(h.storage, h.clock, { lgMax: 1 << 20 });
    const t = await env.createDictionary('t');
    const repo0 = new BackupRepo(new LocalStore(h.storage, '/repo'));
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      await env.put(t, enc(`k${i}`), enc('v'));
      names.push((await env.backup(repo0, { deltaMaxSteps: 1 })).name);
    }
    await env.close();
    const plan = await planDelete(repo0, { retain: 1 });
    expect(plan.backups).toEqual(names.slice(0, 2));
    const crashes = await crashSearch(
      h.storage,
      (disk) => executeDelete(new BackupRepo(new LocalStore(disk, '/repo')), plan, { now: () => 0 }),
      async (disk, at) => {
        const repo = new BackupRepo(new LocalStore(disk, '/repo'));
        const left = await repo.names();
        expect(left.slice(-2), `kept after crash at ${at}`).toEqual(names.slice(2));
        expect((await verifyRepo(repo, undefined)).problems, `verify after crash at ${at}`).toEqual([]);
        await fetchBackup(repo, 'LATEST', disk, '/r', { envOptions: { clock: h.clock, owner: 'tester' } });
        expect(await dumpDir(disk, h.clock, '/r')).toEqual({ t: { k0: 'v', k1: 'v', k2: 'v', k3: 'v' } });
        // The crashed delete's lease is its own id's (host:pid), so the rerun takes it over.
        await executeDelete(repo, await planDelete(repo, { retain: 1 }), { now: () => 0 });
        expect(await new BackupRepo(repo.store).names()).toEqual(names.slice(2));
      },
    );
    expect(crashes).toBeGreaterThan(0);
  });

  // Property: a crash at any I/O of a delete that also removes archived log never loses a log file a kept backup needs: after it, verify is clean and the oldest kept backup still restores to the end of the archive with every commit up to there.
  it('Scenario: crash during a delete that removes archived log', async () => {
    const h = backupHarness(34);
    const { names, rows: n } = await repoWithArchive(h);
    const repo0 = new BackupRepo(new LocalStore(h.storage, '/repo'));
    const plan = await planDelete(repo0, { retain: 2 });
    expect(plan.backups).toEqual(names.slice(0, 1));
    expect(plan.logs.length).toBeGreaterThan(0);
    const reach = BigInt((await archivedLogs(repo0.store)).at(-1)!.lastLsn);
    const crashes = await crashSearch(
      h.storage,
      (disk) => executeDelete(new BackupRepo(new LocalStore(disk, '/repo')), plan, { now: () => 0 }),
      async (disk, at) => {
        const repo = new BackupRepo(new LocalStore(disk, '/repo'));
        expect((await repo.names()).slice(-2), `kept after crash at ${at}`).toEqual(names.slice(1));
        expect((await verifyRepo(repo, undefined)).problems, `verify after crash at ${at}`).toEqual([]);
        const dest = `/r${at}`;
        await fetchBackup(repo, names[1]!, disk, dest, { untilLsn: reach, envOptions: { clock: h.clock, owner: 'tester' } });
        expect(Object.keys((await dumpDir(disk, h.clock, dest))['t']!).length, `rows after crash at ${at}`).toBe(n);
      },
    );
    expect(crashes).toBeGreaterThan(0);
  });
});

const acked = { n: 0 };
const seen = { maxAcked: 0, restored: 0 };
