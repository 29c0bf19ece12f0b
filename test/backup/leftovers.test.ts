/**
 * What interrupted deletes leave behind that nothing lists (archived log data without a
 * sidecar, backup directories without a sentinel): verify warns of them, a later confirmed
 * delete removes them, and only them.
 */
import { describe, expect, it } from 'vitest';
import { archivedLogs } from '../../src/backup/archive.js';
import { executeDelete, findLeftovers, planDelete } from '../../src/backup/delete.js';
import { BASE_DIR, LOCK_KEY, manifestKey, sentinelKey, WAL_DIR, WAL_LOCK_KEY } from '../../src/backup/manifest.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { verifyRepo } from '../../src/backup/verify.js';
import type { SimStorage } from '../../src/storage/sim-storage.js';
import { MachineHalted } from '../../src/storage/storage.js';
import { Lease } from '../../src/backup/lease.js';
import { backupHarness, enc, repoWithArchive } from './helpers.js';


/** Every object of the repository (raw file names under /repo, temporary ones and the lease's claims aside). */
async function objects(disk: SimStorage): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const n of await disk.list(dir)) {
      const p = `${dir}/${n}`;
      const r = rel === '' ? n : `${rel}/${n}`;
      const isDir = await disk.list(p).then(() => true, () => false);
      if (isDir) await walk(p, r);
      else if (!n.endsWith('.tmp-put')) out.push(r);
    }
  };
  await walk('/repo', '');
  return out.sort();
}

describe('backup: leftovers of interrupted deletes', () => {
  // Property: a crash at every I/O of a delete that removes backups and archived log leaves only leftovers verify warns of (never a problem), and a rerun of the delete leaves exactly the objects a delete that never crashed leaves: nothing that is never cleaned.
  it('Scenario: a crash at every I/O of delete; the rerun removes every leftover', async () => {
    const h = backupHarness(34);
    const { names } = await repoWithArchive(h);
    const plan = await planDelete(new BackupRepo(new LocalStore(h.storage, '/repo')), { retain: 2 });
    expect(plan.backups).toEqual(names.slice(0, 1));
    expect(plan.logs.length).toBeGreaterThan(0);
    expect(plan.leftovers).toEqual({ logs: [], backups: [] });
    // What a delete that never crashed leaves.
    const clean = h.storage.snapshot();
    await executeDelete(new BackupRepo(new LocalStore(clean, '/repo')), plan, { now: () => 0 });
    const want = await objects(clean);
    expect(want.some((o) => o.startsWith(`${WAL_DIR}/`))).toBe(true);

    const probe = h.storage.snapshot();
    const start = probe.ioOps();
    await executeDelete(new BackupRepo(new LocalStore(probe, '/repo')), plan, { now: () => 0 });
    const end = probe.ioOps();
    const kinds = { logs: 0, backups: 0 };
    for (let at = start + 1; at <= end; at++) {
      const disk = h.storage.snapshot();
      disk.crashAtIo(disk.ioOps() + (at - start));
      const err: unknown = await executeDelete(new BackupRepo(new LocalStore(disk, '/repo')), plan, { now: () => 0 }).then(() => undefined, (e: unknown) => e);
      expect(err, `crash at I/O ${at}`).toBeInstanceOf(MachineHalted);
      disk.crash({ seed: at });
      const repo = new BackupRepo(new LocalStore(disk, '/repo'));
      const left = await findLeftovers(repo);
      if (left.logs.length > 0) kinds.logs++;
      if (left.backups.length > 0) kinds.backups++;
      const v = await verifyRepo(repo, undefined);
      expect(v.problems, `verify after crash at ${at}`).toEqual([]);
      expect(v.warnings.length, `warnings after crash at ${at}`).toBe(left.logs.length + left.backups.length);
      for (const l of left.logs) expect(v.warnings).toContain(`archive: ${l} has no sidecar (left by an interrupted delete or archive); a confirmed delete removes it once the oldest kept backup's log starts after it`);
      // The rerun (its lease is the crashed one's own id, host:pid, so it takes it over at once).
      await executeDelete(repo, await planDelete(repo, { retain: 2 }), { now: () => 0 });
      expect(await findLeftovers(repo), `leftovers after the rerun (crash at ${at})`).toEqual({ logs: [], backups: [] });
      expect(await objects(disk), `objects after the rerun (crash at ${at})`).toEqual(want);
      expect((await verifyRepo(repo, undefined)).warnings).toEqual([]);
    }
    // The search reached both kinds of leftover.
    expect(kinds.logs).toBeGreaterThan(0);
    expect(kinds.backups).toBeGreaterThan(0);
  });

  // Property: a crash at every I/O of a delete that removes leftovers (sidecar-less log files and a sentinel-less backup directory) leaves verify without problems, and the next delete removes what is left of them.
  it('Scenario: a crash at every I/O of the delete that removes leftovers', async () => {
    const h = backupHarness(37);
    const { names } = await repoWithArchive(h);
    const repo0 = new BackupRepo(new LocalStore(h.storage, '/repo'));
    const plan0 = await planDelete(repo0, { retain: 2 });
    // A delete that crashed after every sidecar's removal and the oldest backup's sentinel.
    await repo0.store.delete(sentinelKey(names[0]!));
    for (const l of plan0.logs) await repo0.store.delete(`${WAL_DIR}/${l}.json`);
    await repo0.store.sync();
    const plan = await planDelete(repo0, { retain: 2 });
    expect(plan.backups).toEqual([]);
    expect(plan.leftovers).toEqual({ logs: plan0.logs, backups: [names[0]] });
    const clean = h.storage.snapshot();
    await executeDelete(new BackupRepo(new LocalStore(clean, '/repo')), plan, { now: () => 0 });
    const want = await objects(clean);
    const probe = h.storage.snapshot();
    const start = probe.ioOps();
    await executeDelete(new BackupRepo(new LocalStore(probe, '/repo')), plan, { now: () => 0 });
    const end = probe.ioOps();
    for (let at = start + 1; at <= end; at++) {
      const disk = h.storage.snapshot();
      disk.crashAtIo(disk.ioOps() + (at - start));
      const err: unknown = await executeDelete(new BackupRepo(new LocalStore(disk, '/repo')), plan, { now: () => 0 }).then(() => undefined, (e: unknown) => e);
      expect(err, `crash at I/O ${at}`).toBeInstanceOf(MachineHalted);
      disk.crash({ seed: at });
      const repo = new BackupRepo(new LocalStore(disk, '/repo'));
      expect(await repo.names(), `crash at I/O ${at}`).toEqual(names.slice(1));
      expect((await verifyRepo(repo, undefined)).problems, `verify after crash at ${at}`).toEqual([]);
      await executeDelete(repo, await planDelete(repo, { retain: 2 }), { now: () => 0 });
      expect(await findLeftovers(repo), `leftovers after the rerun (crash at ${at})`).toEqual({ logs: [], backups: [] });
      const have = await objects(disk);
      if (have.includes(WAL_LOCK_KEY)) {
        // The crashed delete's archive lease (it had nothing left to remove, so the rerun did not take it): the next archiver takes it over once it has expired, as any killed holder's.
        const held = JSON.parse(new TextDecoder().decode((await repo.store.get(WAL_LOCK_KEY))!)) as { id: string; op: string; expireAtMs: number };
        expect(held.op).toBe('delete');
        await (await Lease.acquire(repo.store, WAL_LOCK_KEY, { id: 'archiver:2', op: 'log archive', now: () => held.expireAtMs + 1 })).release();
      }
      expect(await objects(disk), `objects after the rerun (crash at ${at})`).toEqual(want);
    }
  });

  // Scenario: a delete removes only leftovers no backup can need: a sidecar-less log file the oldest kept backup's log reaches (an archive cut short between data and sidecar), a file in wal/ that is not a log file, and the directory an interrupted push resumes all stay.
  it('Scenario: what a delete does not remove', async () => {
    const h = backupHarness(35);
    const { names } = await repoWithArchive(h);
    const repo = new BackupRepo(new LocalStore(h.storage, '/repo'));
    const archive = await archivedLogs(repo.store);
    // The newest archived file loses its sidecar: a later archive run would write it again.
    const newest = archive.at(-1)!.name;
    await repo.store.delete(`${WAL_DIR}/${newest}.json`);
    await repo.store.putAtomic(`${WAL_DIR}/notes.txt`, enc('not ours to delete'));
    // A directory an interrupted push left, named by its progress file.
    const resumed = 'base_00000000000099999999';
    await repo.store.putAtomic(`${BASE_DIR}/${resumed}/p/000001`, enc('part'));
    await repo.store.putAtomic('progress/push.json', enc(JSON.stringify({ format: 'tokusim-backup/1', name: resumed, parts: [], source: {} })));
    // And one a crashed delete left (sentinel gone, parts still there).
    const dropped = names[0]!;
    await repo.store.delete(sentinelKey(dropped));
    await repo.store.sync();
    const found = await findLeftovers(repo);
    expect(found).toEqual({ logs: [newest], backups: [dropped] });
    const v = await verifyRepo(repo, undefined);
    expect(v.warnings).toEqual([
      `archive: ${newest} has no sidecar (left by an interrupted delete or archive); a confirmed delete removes it once the oldest kept backup's log starts after it`,
      `${dropped}: a backup directory without a sentinel (left by an interrupted delete or push); a confirmed delete or the next push removes it`,
    ]);
    const plan = await planDelete(repo, { retain: 2 });
    expect(plan.leftovers).toEqual({ logs: [], backups: [dropped] });
    await executeDelete(repo, plan, { now: () => 0 });
    expect(await repo.store.get(manifestKey(dropped))).toBeUndefined();
    expect(await repo.store.list(`${BASE_DIR}/${dropped}/p`)).toEqual([]);
    expect(await repo.store.get(`${WAL_DIR}/${newest}`)).toBeDefined();
    expect(await repo.store.get(`${WAL_DIR}/notes.txt`)).toBeDefined();
    expect(await repo.store.list(`${BASE_DIR}/${resumed}/p`)).toEqual(['000001']);
  });

  // Scenario: while `log archive` holds the archive's lease (it may be between a file's data and its sidecar), a delete leaves the sidecar-less log files for a later delete, and removes them once the lease is free.
  it('Scenario: a delete waits for the archive lease before removing leftover log files', async () => {
    const h = backupHarness(36);
    const { names } = await repoWithArchive(h);
    const repo = new BackupRepo(new LocalStore(h.storage, '/repo'));
    const plan0 = await planDelete(repo, { retain: 2 });
    // A crash between the two steps, as in the first scenario: sidecars gone, data left.
    for (const l of plan0.logs) await repo.store.delete(`${WAL_DIR}/${l}.json`);
    await repo.store.sync();
    expect((await findLeftovers(repo)).logs).toEqual(plan0.logs);
    const archiving = await Lease.acquire(repo.store, WAL_LOCK_KEY, { id: 'archiver:1', op: 'log archive', now: () => 0 });
    const plan = await planDelete(repo, { retain: 2 });
    expect(plan.leftovers.logs).toEqual(plan0.logs);
    await executeDelete(repo, plan, { now: () => 0 });
    expect(await repo.names()).toEqual(names.slice(1));
    expect((await findLeftovers(repo)).logs).toEqual(plan0.logs);
    await archiving.release();
    await executeDelete(repo, await planDelete(repo, { retain: 2 }), { now: () => 0 });
    expect(await findLeftovers(repo)).toEqual({ logs: [], backups: [] });
    expect(await repo.store.get(LOCK_KEY)).toBeUndefined();
    expect(await repo.store.get(WAL_LOCK_KEY)).toBeUndefined();
  });
});
