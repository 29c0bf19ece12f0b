import { describe, expect, it } from 'vitest';
import { LogArchiver } from '../../src/backup/archive.js';
import { executeDelete, planDelete } from '../../src/backup/delete.js';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { Env } from '../../src/engine/env.js';
import { findLogFiles } from '../../src/log/names.js';
import type { Xid } from '../../src/format/record-types.js';
import { backupHarness, dumpAll, dumpDir, enc } from './helpers.js';

const XID: Xid = { formatID: 1, gtridLength: 1, bqualLength: 1, data: enc('pq') };

describe('backup: point in time, deltas, verify, archive, delete', () => {
  // Scenario: PITR to an LSN between two commits keeps the first, drops the second, and a transaction prepared before the target stays prepared.
  it('Scenario: --until-lsn with the archive: committed before survive, after vanish, prepared stay prepared', async () => {
    const h = backupHarness();
    const repo = h.repo();
    const archiver = new LogArchiver(repo.store);
    const env = await h.open({ logArchive: archiver, lgMax: 4096 });
    const t = await env.createDictionary('t');
    await env.put(t, enc('a'), enc('1'));
    const m = await env.backup(repo, {});
    await env.put(t, enc('b'), enc('2'));
    const p = env.begin();
    await p.put(t, enc('p'), enc('prepared'));
    await p.prepare(XID);
    const target = env.status().log!.lastLsn;
    await env.put(t, enc('c'), enc('3'));
    await env.close();
    expect(archiver.failure).toBeUndefined();
    expect(archiver.archived.length).toBeGreaterThan(0);
    expect(BigInt(m.log.lastLsn)).toBeLessThan(target);
    await fetchBackup(repo, m.name, h.storage, '/pitr', { untilLsn: target, envOptions: { clock: h.clock } });
    const env2 = await Env.open('/pitr', { storage: h.storage, clock: h.clock, checkpointPeriodMs: 0, owner: 'r' });
    expect(await dumpAll(env2)).toEqual({ t: { a: '1', b: '2' } });
    expect(env2.listPreparedTransactions().map((x) => x.id)).toEqual([p.id]);
    await env2.close({ abortLive: true });
    // Without a target the backup restores to its own end: only 'a'.
    await fetchBackup(repo, m.name, h.storage, '/plain', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/plain')).toEqual({ t: { a: '1' } });
    // A target before the backup's end_checkpoint is refused before DEST is touched.
    await expect(fetchBackup(repo, m.name, h.storage, '/early', { untilLsn: BigInt(m.checkpoint.beginLsn) })).rejects.toThrow(/before backup .* is consistent/);
    expect(await h.storage.exists('/early')).toBe(false);
  });

  // Scenario: after 1% of the rows change, a delta stores a small fraction of the full backup's bytes, and full+delta restore to the new state.
  it('Scenario: delta after a 1% change is small and composes; verify --restore-check passes', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    const big = 'x'.repeat(200);
    for (let i = 0; i < 2000; i += 50) await env.writeBatch(Array.from({ length: 50 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(big) })));
    const repo = h.repo();
    const full = await env.backup(repo, { deltaMaxSteps: 2 });
    expect(full.kind).toBe('full');
    for (let i = 0; i < 20; i++) await env.put(t, enc(`k${String(i).padStart(5, '0')}`), enc('changed'));
    const d1 = await env.backup(repo, { deltaMaxSteps: 2 });
    expect(d1.kind).toBe('delta');
    expect(d1.parent).toBe(full.name);
    expect(d1.bytes.sent).toBeLessThan(full.bytes.sent / 4);
    await env.put(t, enc('k00100'), enc('again'));
    const d2 = await env.backup(repo, { deltaMaxSteps: 2, deltaOrigin: 'LATEST' });
    expect(d2.parent).toBe(d1.name);
    const f2 = await env.backup(repo, { deltaMaxSteps: 2 });
    expect(f2.kind).toBe('full');
    const live = await dumpAll(env);
    await env.close();
    await fetchBackup(repo, d2.name, h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual(live);
    const rep = await verifyRepo(repo, d2.name, { restoreCheck: { storage: h.storage, dir: (n) => `/scratch-${n}` } });
    expect(rep.problems).toEqual([]);
    expect(rep.backups).toEqual([full.name, d1.name, d2.name]);
    expect(rep.restoreChecked).toEqual([d2.name]);
    // A flipped byte in a delta block is found.
    const c = d1.files.find((f) => f.delta !== undefined && f.delta.changed.length > 0)!.delta!.changed[0]!;
    h.storage.flipBits(`/repo/${c.part}`, c.partOffset + 10, 1, 7);
    const bad = await verifyRepo(repo, undefined);
    expect(bad.problems.join('\n')).toMatch(/block \d+ does not match its sha256/);
  });

  // Scenario: with archiving on, trimming never deletes a log file that is not archived yet; once archived it may go.
  it('Scenario: the archiver holds back log trimming until each closed file is stored', async () => {
    const h = backupHarness();
    const store = new LocalStore(h.storage, '/repo');
    const archiver = new LogArchiver(store);
    // Archive nothing until released: every closed file stays pending.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const realPut = store.putAtomic.bind(store);
    store.putAtomic = async (k, d) => {
      await gate;
      return realPut(k, d);
    };
    const env = await h.open({ logArchive: archiver, lgMax: 2048 });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 60; i++) await env.put(t, enc(`k${i}`), enc('v'.repeat(100)));
    await env.checkpoint();
    const files = (await findLogFiles(h.storage, '/env')).map((f) => f.name);
    expect(files.length).toBeGreaterThan(3);
    // The checkpoint wanted to trim, but nothing is archived: the oldest file is still here.
    expect(files[0]).toBe('log000000000000.tokulog29');
    release();
    await archiver.drain();
    await env.checkpoint();
    const after = (await findLogFiles(h.storage, '/env')).map((f) => f.name);
    expect(after[0]).not.toBe('log000000000000.tokulog29');
    const repo = new BackupRepo(store);
    expect((await verifyRepo(repo, undefined)).problems).toEqual([]);
    await env.close();
  });

  // Scenario: delete retain 1 keeps the newest full chain whole, is a dry run without confirm, and removes log the kept backups do not need.
  it('Scenario: delete retain/before with WAL-G semantics', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    const repo = h.repo();
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      await env.put(t, enc(`k${i}`), enc('v'));
      names.push((await env.backup(repo, { deltaMaxSteps: 1 })).name);
    }
    await env.close();
    // full, delta, full, delta
    const plan = await planDelete(repo, { retain: 1 });
    expect(plan.backups).toEqual(names.slice(0, 2));
    expect(plan.kept).toEqual(names.slice(2));
    expect(await repo.names()).toEqual(names);
    await expect(planDelete(repo, { before: names[3]! })).rejects.toThrow(/orphan/);
    const ff = await planDelete(repo, { before: names[3]!, findFull: true });
    expect(ff.backups).toEqual(names.slice(0, 2));
    await executeDelete(repo, plan);
    expect(await new BackupRepo(repo.store).names()).toEqual(names.slice(2));
    await fetchBackup(new BackupRepo(repo.store), 'LATEST', h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual({ t: { k0: 'v', k1: 'v', k2: 'v', k3: 'v' } });
  });

  // Scenario: --until-time keeps commits before the last timestamped record at or before the time, never a commit after the time; a time before the backup is consistent is refused.
  it('Scenario: --until-time against the clock of checkpoint records', async () => {
    const h = backupHarness();
    const repo = h.repo();
    const archiver = new LogArchiver(repo.store);
    const env = await h.open({ logArchive: archiver, lgMax: 4096 });
    const t = await env.createDictionary('t');
    await h.clock.advance(1_000);
    await env.put(t, enc('a'), enc('1'));
    const m = await env.backup(repo, {});
    await h.clock.advance(10_000); // 11 s
    await env.put(t, enc('b'), enc('2'));
    await env.checkpoint(); // stamped 11 s, after b
    await h.clock.advance(2_000); // 13 s
    await env.put(t, enc('c'), enc('3')); // after the 11 s stamp, before 15 s: left out (no commit times in the log)
    await h.clock.advance(7_000); // 20 s
    await env.checkpoint(); // stamped 20 s
    await env.put(t, enc('d'), enc('4'));
    await env.close();
    // Before the fix of later checkpoints in a restored log, recovery turned at the 11 s checkpoint and lost b.
    const epochMs = Number(h.clock.nowMicros() / 1000n) - h.clock.nowMs();
    await fetchBackup(repo, m.name, h.storage, '/t15', { untilTimeMs: epochMs + 15_000, envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/t15')).toEqual({ t: { a: '1', b: '2' } });
    await fetchBackup(repo, m.name, h.storage, '/t20', { untilTimeMs: epochMs + 20_000, envOptions: { clock: h.clock } });
    // The shutdown record is stamped 20 s too: everything committed by then survives.
    expect(await dumpDir(h.storage, h.clock, '/t20')).toEqual({ t: { a: '1', b: '2', c: '3', d: '4' } });
    await expect(fetchBackup(repo, m.name, h.storage, '/t0', { untilTimeMs: epochMs + 500 })).rejects.toThrow(/target LSN \d+ is before backup .* is consistent/);
    expect(await h.storage.exists('/t0')).toBe(false);
  });
});
