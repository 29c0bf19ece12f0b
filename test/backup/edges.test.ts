/**
 * Edges of issue #16's promises that the main scenarios do not reach: the exact boundary of a
 * point-in-time target, a transaction prepared at the target and resolved after it, a target
 * past the available log, `--delta-origin LATEST_FULL`, `delete retain N --full`, archived
 * log deleted only when no kept backup needs it, and verify finding a hole in the archive.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { archivedLogs, LogArchiver } from '../../src/backup/archive.js';
import { executeDelete, planDelete } from '../../src/backup/delete.js';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { Env } from '../../src/engine/env.js';
import { LOG_FILE_HEADER_SIZE } from '../../src/format/log-header.js';
import type { Xid } from '../../src/format/record-types.js';
import { EXIT, exitCodeFor } from '../../tools/cli-support.js';
import { backupHarness, dumpAll, dumpDir, enc } from './helpers.js';

const xid = (s: string): Xid => ({ formatID: 1, gtridLength: s.length, bqualLength: 0, data: enc(s) });

describe('backup: edges of point-in-time restore, deltas, delete and verify', () => {
  // Scenario: a target at a commit's own LSN keeps it and one LSN earlier drops it; a transaction prepared before the target and committed (or aborted) after it is prepared at the target, and resolved at a later target; a target past the available log is refused before DEST exists.
  it('Scenario: PITR boundaries and transactions prepared at the target', async () => {
    const h = backupHarness();
    const repo = h.repo();
    const archiver = new LogArchiver(repo.store);
    const env = await h.open({ logArchive: archiver, lgMax: 4096 });
    const t = await env.createDictionary('t');
    await env.put(t, enc('a'), enc('1'));
    const m = await env.backup(repo, {});
    const lsn = (): bigint => env.status().log!.lastLsn;
    await env.put(t, enc('b'), enc('2'));
    const bCommit = lsn();
    const p = env.begin();
    await p.put(t, enc('p'), enc('prepared-then-committed'));
    await p.prepare(xid('p'));
    const q = env.begin();
    await q.put(t, enc('q'), enc('prepared-then-aborted'));
    await q.prepare(xid('q'));
    const atPrepared = lsn();
    await env.put(t, enc('c'), enc('3'));
    await p.commit();
    await q.abort();
    const afterBoth = lsn();
    await env.put(t, enc('d'), enc('4'));
    const end = lsn();
    await env.close();
    expect(archiver.failure).toBeUndefined();
    const restore = async (dest: string, untilLsn: bigint) => {
      await fetchBackup(repo, m.name, h.storage, dest, { untilLsn, envOptions: { clock: h.clock } });
      const e = await Env.open(dest, { storage: h.storage, clock: h.clock, checkpointPeriodMs: 0, owner: 'r' });
      const rows = await dumpAll(e);
      const prepared = e.listPreparedTransactions().map((x) => new TextDecoder().decode(x.xid.data)).sort();
      await e.close({ abortLive: true });
      return { rows, prepared };
    };
    // At the commit's own LSN the commit survives; one LSN earlier it does not.
    expect(await restore('/at-b', bCommit)).toEqual({ rows: { t: { a: '1', b: '2' } }, prepared: [] });
    expect(await restore('/before-b', bCommit - 1n)).toEqual({ rows: { t: { a: '1' } }, prepared: [] });
    // Prepared at the target: both stay prepared, whatever they did after it.
    expect(await restore('/prepared', atPrepared)).toEqual({ rows: { t: { a: '1', b: '2' } }, prepared: ['p', 'q'] });
    // After the commit and the abort: p's row is there, q's is not, nothing is left prepared.
    expect(await restore('/resolved', afterBoth)).toEqual({ rows: { t: { a: '1', b: '2', c: '3', p: 'prepared-then-committed' } }, prepared: [] });
    expect(await restore('/end', end)).toEqual({ rows: { t: { a: '1', b: '2', c: '3', d: '4', p: 'prepared-then-committed' } }, prepared: [] });
    // Past everything archived: refused, DEST never made.
    const err: unknown = await fetchBackup(repo, m.name, h.storage, '/too-far', { untilLsn: end + 1000n }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOKUSIM_BAD_ARGUMENT' });
    // The archive ends at the close's shutdown record, a few LSNs past the last commit.
    const ends = /the log available ends at LSN (\d+), before the target (\d+)/.exec((err as Error).message);
    expect(ends?.[2]).toBe(String(end + 1000n));
    expect(BigInt(ends![1]!)).toBeGreaterThanOrEqual(end);
    expect(BigInt(ends![1]!)).toBeLessThan(end + 1000n);
    expect(exitCodeFor(err)).toBe(EXIT.USAGE);
    expect(await h.storage.exists('/too-far')).toBe(false);
    // A time before the backup's first record: nothing to cut at; refused the same way.
    const early: unknown = await fetchBackup(repo, m.name, h.storage, '/too-early', { untilTimeMs: 0 }).then(() => undefined, (e: unknown) => e);
    expect(early).toMatchObject({ code: 'TOKUSIM_BAD_ARGUMENT', message: expect.stringContaining(`fetch: no log record of backup ${m.name} is stamped at or before 1970-01-01T00:00:00.000Z`) });
    expect(await h.storage.exists('/too-early')).toBe(false);
  });

  // Scenario: with --delta-origin LATEST_FULL a delta's parent is the latest full backup even when a delta came after it; deltaMaxSteps still counts from the latest backup; the delta composes over the full alone.
  it('Scenario: --delta-origin LATEST_FULL', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    const repo = h.repo();
    for (let i = 0; i < 200; i++) await env.put(t, enc(`k${String(i).padStart(4, '0')}`), enc('x'.repeat(100)));
    const full = await env.backup(repo, { deltaMaxSteps: 3 });
    await env.put(t, enc('k0001'), enc('one'));
    const d1 = await env.backup(repo, { deltaMaxSteps: 3 });
    await env.put(t, enc('k0002'), enc('two'));
    const d2 = await env.backup(repo, { deltaMaxSteps: 3, deltaOrigin: 'LATEST_FULL' });
    expect([full.kind, d1.kind, d2.kind]).toEqual(['full', 'delta', 'delta']);
    expect(d1.parent).toBe(full.name);
    expect(d2.parent).toBe(full.name);
    expect(d2.deltaSteps).toBe(1);
    const live = await dumpAll(env);
    await env.close();
    await fetchBackup(repo, d2.name, h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual(live);
    expect((await repo.chain(d2.name)).map((c) => c.name)).toEqual([full.name, d2.name]);
    // Deleting before d2 with --find-full keeps its base, and d1 (a delta of that base, older than d2) goes.
    const plan = await planDelete(repo, { before: d2.name, findFull: true });
    expect(plan.backups).toEqual([d1.name]);
  });

  // Scenario: retain N --full counts full backups only and keeps their deltas; archived log files wholly before the oldest kept backup's first record go, the rest stay; PITR from the kept backup still reaches the end; verify is clean, and finds a hole once a middle archived file is removed.
  it('Scenario: delete retain --full, archived log no backup needs, and an archive hole', async () => {
    const h = backupHarness();
    const repo = h.repo();
    const archiver = new LogArchiver(repo.store);
    const env = await h.open({ logArchive: archiver, lgMax: 2048 });
    const t = await env.createDictionary('t');
    const names: string[] = [];
    let n = 0;
    const write = async (k: number): Promise<void> => {
      for (let i = 0; i < k; i++) await env.put(t, enc(`k${n++}`), enc('v'.repeat(80)));
    };
    // full, delta, full, delta, full
    for (let i = 0; i < 5; i++) {
      await write(15);
      names.push((await env.backup(repo, { deltaMaxSteps: 1 })).name);
    }
    await write(15);
    const end = env.status().log!.lastLsn;
    await env.close();
    await archiver.drain();
    const ms = await repo.manifests();
    expect(ms.map((m) => m.kind)).toEqual(['full', 'delta', 'full', 'delta', 'full']);

    const plan = await planDelete(repo, { retain: 2, fullOnly: true });
    expect(plan.backups).toEqual(names.slice(0, 2));
    expect(plan.kept).toEqual(names.slice(2));
    const firstKept = BigInt(ms[2]!.log.firstLsn);
    const archive = await archivedLogs(repo.store);
    const needless = archive.filter((a) => BigInt(a.lastLsn) < firstKept).map((a) => a.name);
    expect(needless.length).toBeGreaterThan(0);
    expect(plan.logs).toEqual(needless);
    // Dry run: nothing changed.
    expect(await new BackupRepo(repo.store).names()).toEqual(names);
    await executeDelete(repo, plan);
    const after = new BackupRepo(repo.store);
    expect(await after.names()).toEqual(names.slice(2));
    const left = (await archivedLogs(repo.store)).map((a) => a.name);
    expect(left).toEqual(archive.map((a) => a.name).filter((x) => !needless.includes(x)));
    expect((await verifyRepo(after, undefined)).problems).toEqual([]);
    // The oldest kept backup still reaches the end through what is left of the archive.
    await fetchBackup(after, names[2]!, h.storage, '/pitr', { untilLsn: end, envOptions: { clock: h.clock } });
    expect(Object.keys((await dumpDir(h.storage, h.clock, '/pitr'))['t']!).length).toBe(n);

    // A missing archived file in the middle is a hole verify names.
    expect(left.length).toBeGreaterThan(2);
    const gone = left[1]!;
    await repo.store.delete(`wal/${gone}`);
    await repo.store.delete(`wal/${gone}.json`);
    await repo.store.sync();
    const holes = (await verifyRepo(new BackupRepo(repo.store), undefined)).problems;
    expect(holes).toEqual([expect.stringMatching(new RegExp(`^archive: LSN hole between \\d+ and \\d+ \\(before ${left[2]!.replace(/\./g, '\\.')}\\)$`))]);
  });

  // Scenario: an archived log file whose bytes match its sidecar's sha256 but hold a record whose x1764 does not match (damaged before it was archived): verify decodes every record and names the file and offset.
  it('Scenario: verify checks every archived record\'s x1764, not only the file sha256', async () => {
    const h = backupHarness();
    const repo = h.repo();
    const archiver = new LogArchiver(repo.store);
    const env = await h.open({ logArchive: archiver, lgMax: 2048 });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 40; i++) await env.put(t, enc(`k${i}`), enc('v'.repeat(80)));
    await env.close();
    await archiver.drain();
    const victim = (await archivedLogs(repo.store))[1]!;
    const bytes = (await repo.store.get(`wal/${victim.name}`))!.slice();
    // A byte inside the first record's body (after the header, its length and command, and its LSN).
    const at = LOG_FILE_HEADER_SIZE + 4 + 1 + 8 + 2;
    bytes[at]! ^= 0x40;
    await repo.store.putAtomic(`wal/${victim.name}`, bytes);
    const sidecar = JSON.parse(new TextDecoder().decode((await repo.store.get(`wal/${victim.name}.json`))!)) as { sha256: string };
    sidecar.sha256 = createHash('sha256').update(bytes).digest('hex');
    await repo.store.putAtomic(`wal/${victim.name}.json`, enc(JSON.stringify(sidecar)));
    const problems = (await verifyRepo(new BackupRepo(repo.store), undefined)).problems;
    expect(problems.some((p) => p.includes('does not match its sha256'))).toBe(false);
    expect(problems[0]).toMatch(new RegExp(`^archive ${victim.name.replace(/\./g, '\\.')}: damaged at offset ${LOG_FILE_HEADER_SIZE}: .*(x1764|checksum)`, 'i'));
  });
});
