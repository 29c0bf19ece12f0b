import { describe, expect, it } from 'vitest';
import { executeDelete, planDelete } from '../../src/backup/delete.js';
import { fetchBackup, RESTORE_LEASE } from '../../src/backup/fetch.js';
import { Lease } from '../../src/backup/lease.js';
import { LOCK_KEY } from '../../src/backup/manifest.js';
import { loadPushProgress } from '../../src/backup/progress.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { Env } from '../../src/engine/env.js';
import { MachineHalted } from '../../src/storage/storage.js';
import { backupHarness, dumpAll, dumpDir, enc } from './helpers.js';

const PART = 4096;

/** 600 rows of 200 bytes in two dictionaries: dictionary files of many 4 KiB parts. */
async function filled(h: ReturnType<typeof backupHarness>) {
  const env = await h.open();
  const t = await env.createDictionary('t');
  const u = await env.createDictionary('u');
  for (let i = 0; i < 600; i += 50) {
    await env.writeBatch(Array.from({ length: 50 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(4, '0')}`), value: enc('x'.repeat(200)) })));
    await env.writeBatch(Array.from({ length: 50 }, (_, j) => ({ dict: u, op: 'insert' as const, key: enc(`u${String(i + j).padStart(4, '0')}`), value: enc('y'.repeat(200)) })));
  }
  await env.checkpoint();
  return { env, t, u };
}

/** A store whose part PUTs fail (like a lost network) once `allow` of them went through. */
function failingAfter(store: LocalStore, allow: number): { parts: () => number } {
  let n = 0;
  const real = store.put.bind(store);
  store.put = async (k, d) => {
    if (k.includes('/p/') && n++ >= allow) throw new Error('network unreachable (injected)');
    return real(k, d);
  };
  return { parts: () => n };
}

/** Counts the part PUTs of a store and their bytes. */
function counting(store: LocalStore): { parts: number; bytes: number } {
  const c = { parts: 0, bytes: 0 };
  const real = store.put.bind(store);
  store.put = async (k, d) => {
    if (k.includes('/p/')) {
      c.parts++;
      c.bytes += d.length;
    }
    return real(k, d);
  };
  return c;
}

describe('backup: resumable push and fetch, lease lock', () => {
  // Scenario: a push that lost its repository after 10 parts resumes, with the same checkpoint held again, sending only the parts it had not stored.
  it('Scenario: an interrupted push resumes where it stopped', async () => {
    const h = backupHarness();
    const { env } = await filled(h);
    const s1 = new LocalStore(h.storage, '/repo');
    failingAfter(s1, 10);
    await expect(env.backup(new BackupRepo(s1), { partBytes: PART, progressEveryParts: 3 })).rejects.toThrow(/network unreachable/);
    const progress = await loadPushProgress(s1);
    expect(progress?.parts.length).toBe(10);
    expect(await new BackupRepo(s1).names()).toEqual([]);

    const s2 = new LocalStore(h.storage, '/repo');
    const sent = counting(s2);
    const resumes: Array<{ exact: boolean }> = [];
    const m = await env.backup(new BackupRepo(s2), { partBytes: PART, onResume: (r) => resumes.push(r) });
    expect(resumes).toEqual([expect.objectContaining({ exact: true })]);
    expect(m.checkpoint.beginLsn).toBe(progress!.source.checkpointLsn);
    expect(m.bytes.reused).toBe(progress!.parts.reduce((a, p) => a + p.length, 0));
    const allParts = m.files.reduce((a, f) => a + f.parts.length, 0);
    expect(sent.parts).toBe(allParts - 10);
    expect(await loadPushProgress(s2)).toBeUndefined();
    expect((await verifyRepo(new BackupRepo(s2), undefined)).problems).toEqual([]);
    const live = await dumpAll(env);
    await env.close();
    await fetchBackup(new BackupRepo(s2), 'LATEST', h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual(live);
  });

  // Scenario: rows change and a checkpoint runs after the interruption: the progress is stale, every range is read again, and the restore has the new rows, never the old bytes.
  it('Scenario: a stale progress file is never trusted when the source changed', async () => {
    const h = backupHarness();
    const { env, t } = await filled(h);
    const s1 = new LocalStore(h.storage, '/repo');
    failingAfter(s1, 40);
    await expect(env.backup(new BackupRepo(s1), { partBytes: PART, progressEveryParts: 1 })).rejects.toThrow(/network unreachable/);
    const stale = (await loadPushProgress(s1))!;
    for (let i = 0; i < 600; i += 7) await env.put(t, enc(`k${String(i).padStart(4, '0')}`), enc(`changed-${i}`));
    await env.checkpoint();

    const s2 = new LocalStore(h.storage, '/repo');
    const sent = counting(s2);
    const resumes: Array<{ exact: boolean; reason: string }> = [];
    const m = await env.backup(new BackupRepo(s2), { partBytes: PART, onResume: (r) => resumes.push(r) });
    expect(resumes.length).toBe(1);
    expect(resumes[0]!.exact).toBe(false);
    expect(resumes[0]!.reason).toMatch(/source changed since \(checkpoint LSN \d+ -> \d+\)/);
    // Every part the stale progress listed whose source bytes changed was sent again.
    const byRange = new Map(m.files.flatMap((f) => f.parts.map((p) => [`${f.name}@${p.offset}+${p.length}`, p] as const)));
    const changed = stale.parts.filter((p) => byRange.get(`${p.file}@${p.offset}+${p.length}`)?.sha256 !== p.sha256);
    expect(changed.length).toBeGreaterThan(0);
    for (const p of changed) expect(byRange.get(`${p.file}@${p.offset}+${p.length}`)?.key, `${p.file}@${p.offset}`).not.toBe(p.key);
    expect(sent.bytes + (m.bytes.reused ?? 0)).toBe(m.bytes.sent);
    expect((await verifyRepo(new BackupRepo(s2), m.name, { restoreCheck: { storage: h.storage, dir: (n) => `/scratch-${n}` } })).problems).toEqual([]);
    const live = await dumpAll(env);
    expect(live['t']!['k0007']).toBe('changed-7');
    await env.close();
    await fetchBackup(new BackupRepo(s2), 'LATEST', h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual(live);
    // The interrupted push's unused parts are gone.
    const keys = new Set(m.files.flatMap((f) => f.parts.map((p) => p.key)));
    for (const p of stale.parts) if (!keys.has(p.key)) expect(await s2.get(p.key), p.key).toBeUndefined();
  });

  // Scenario: a push killed by a machine crash leaves its lease; another push is refused naming the owner and expiry until it expires, then resumes from the progress file.
  it('Scenario: a killed push: live lease refused with owner and expiry, then taken over and resumed', async () => {
    const h = backupHarness(21);
    const { env } = await filled(h);
    const s1 = new LocalStore(h.storage, '/repo');
    let parts = 0;
    const real = s1.put.bind(s1);
    s1.put = async (k, d) => {
      if (k.includes('/p/') && ++parts === 30) h.storage.crashAtIo(h.storage.ioOps() + 1);
      return real(k, d);
    };
    await expect(env.backup(new BackupRepo(s1), { partBytes: PART, progressEveryParts: 4, leaseId: 'pusher-A', leaseTtlMs: 60_000 })).rejects.toBeInstanceOf(MachineHalted);
    env.abandon();
    h.storage.crash({ seed: 3 });
    const env2 = await h.open();
    const repo = h.repo();
    expect(await repo.names()).toEqual([]);
    const err = await env2.backup(repo, { partBytes: PART, leaseId: 'pusher-B' }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: expect.stringMatching(/held by push pusher-A until \d{4}-\d\d-\d\dT[\d:.]+Z/) });
    // delete is refused too while the lease lives
    await expect(executeDelete(repo, await planDelete(repo, { retain: 1 }), { leaseId: 'deleter', now: () => Number(h.clock.nowMicros() / 1000n) })).rejects.toMatchObject({ code: 'TOKUSIM_REPO_LOCKED' });
    await h.clock.advance(61_000);
    const resumes: Array<{ exact: boolean }> = [];
    const m = await env2.backup(repo, { partBytes: PART, leaseId: 'pusher-B', onResume: (r) => resumes.push(r) });
    // The restart recovered and checkpointed: not the same checkpoint, but unchanged node blocks are reused.
    expect(resumes).toEqual([expect.objectContaining({ exact: false })]);
    expect(m.bytes.reused ?? 0).toBeGreaterThan(0);
    expect(await h.storage.exists('/repo/locks/repo.lease.json')).toBe(false);
    const live = await dumpAll(env2);
    await env2.close();
    await fetchBackup(repo, 'LATEST', h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual(live);
  });

  // Scenario: a fetch killed after its first dictionary file keeps that file on the rerun (checked by sha256); a live fetch lease on DEST is refused.
  it('Scenario: a killed fetch resumes; DEST under a live lease is refused', async () => {
    const h = backupHarness(8);
    const { env } = await filled(h);
    const repo = h.repo();
    await env.backup(repo, {});
    const live = await dumpAll(env);
    await env.close();
    const disk = h.storage;
    const dicts = (await repo.manifest(await repo.resolve('LATEST'))).files.filter((f) => f.role === 'dictionary').length;
    expect(dicts).toBeGreaterThan(2);
    // Crash once the progress file was written for the second time.
    let puts = 0;
    const realPut = LocalStore.prototype.putAtomic;
    LocalStore.prototype.putAtomic = async function (this: LocalStore, k: string, d: Uint8Array) {
      await realPut.call(this, k, d);
      if (k === '__tokusim_restore_progress.json' && ++puts === 2) disk.crashAtIo(disk.ioOps() + 1);
    };
    try {
      await expect(fetchBackup(repo, 'LATEST', disk, '/r', { leaseId: 'fetch-A', now: () => 1_000 })).rejects.toBeInstanceOf(MachineHalted);
    } finally {
      LocalStore.prototype.putAtomic = realPut;
    }
    disk.crash({ seed: 4 });
    await expect(fetchBackup(repo, 'LATEST', disk, '/r', { leaseId: 'fetch-B', now: () => 2_000 })).rejects.toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: expect.stringMatching(/held by fetch fetch-A until 1970-01-01T00:01:01\.000Z/) });
    await expect(Env.open('/r', { storage: disk, clock: h.clock, checkpointPeriodMs: 0, owner: 'x' })).rejects.toThrow();
    const r = await fetchBackup(repo, 'LATEST', disk, '/r', { leaseId: 'fetch-B', now: () => 70_000, envOptions: { clock: h.clock } });
    expect(r.kept.length).toBe(2);
    expect(await disk.exists(`/r/${RESTORE_LEASE}`)).toBe(false);
    expect(await dumpDir(disk, h.clock, '/r')).toEqual(live);
    // A lease held by someone else on an empty DEST.
    await Lease.acquire(new LocalStore(disk, '/r2', { repository: false }), RESTORE_LEASE, { id: 'other', op: 'fetch', now: () => 0 });
    await expect(fetchBackup(repo, 'LATEST', disk, '/r2', { leaseId: 'me', now: () => 10 })).rejects.toMatchObject({ code: 'TOKUSIM_REPO_LOCKED' });
    expect(LOCK_KEY).toBe('locks/repo.lease.json');
  });
});
