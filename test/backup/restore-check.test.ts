import { describe, expect, it } from 'vitest';
import { archivedLogs, LogArchiver } from '../../src/backup/archive.js';
import { fetchBackup } from '../../src/backup/fetch.js';
import { sha256Hex } from '../../src/backup/hash.js';
import { scanLogBytes } from '../../src/backup/log-bytes.js';
import { encodeJson, manifestKey, MANIFEST_FORMAT, sentinelKey, WAL_DIR } from '../../src/backup/manifest.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { encodeRecord } from '../../src/format/codec.js';
import { LOG_FILE_HEADER_SIZE } from '../../src/format/log-header.js';
import type { LogRecord } from '../../src/format/record-types.js';
import { backupHarness, dumpAll, dumpDir, enc } from './helpers.js';

const dec = new TextDecoder();

/** A backup taken while a client writes, with its contents recorded, and the log archived past its end. */
async function backedUpWithArchive() {
  const h = backupHarness(9);
  const repo = h.repo();
  const archiver = new LogArchiver(repo.store);
  const env = await h.open({ logArchive: archiver, lgMax: 4096 });
  const t = await env.createDictionary('t');
  for (let i = 0; i < 40; i++) await env.put(t, enc(`k${i}`), enc(`v${i}`));
  let writes = 0;
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      await env.put(t, enc(`w${writes}`), enc(`value-${writes}`));
      writes++;
    }
  })();
  const m = await env.backup(repo, { contents: { storage: h.storage, dir: '/push-scratch' } });
  stop = true;
  await writer;
  // Later writes: the log file holding the backup's end closes and is archived whole.
  for (let i = 0; i < 60; i++) await env.put(t, enc(`later${i}`), enc('z'.repeat(50)));
  const live = await dumpAll(env);
  await env.close();
  expect(archiver.failure).toBeUndefined();
  return { h, repo, m, live };
}

describe('backup: verify --restore-check compares the recovered state', () => {
  // Scenario: --restore-check recovers to the backup's end (through the archive) and matches the contents the push recorded.
  it('Scenario: recorded contents match after restore and recovery', async () => {
    const { h, repo, m } = await backedUpWithArchive();
    expect(m.contents).toBeDefined();
    expect(m.contents!.atLsn).toBe(m.log.lastLsn);
    // Writes during the copy: the backup's log region holds rows the checkpoint image does not.
    expect(BigInt(m.log.lastLsn)).toBeGreaterThan(BigInt(m.checkpoint.endLsn));
    const rep = await verifyRepo(repo, m.name, { restoreCheck: { storage: h.storage, dir: (n) => `/scratch-${n}` } });
    expect(rep.problems).toEqual([]);
    expect(rep.notes).toEqual([]);
    expect(rep.restoreChecked).toEqual([m.name]);
    // The figures are the rows a restore really holds.
    const fetched = await fetchBackup(repo, m.name, h.storage, '/plain', { envOptions: { clock: h.clock } });
    expect(fetched.lastLsn).toBe(m.log.lastLsn);
    const rows = await dumpDir(h.storage, h.clock, '/plain');
    expect(String(Object.keys(rows['t']!).length)).toBe(m.contents!.rows);
  });

  // Scenario: a row changed inside the archived copy of the backup's log region, with its x1764 and the archive's sha256 made valid again: checksums all pass, --restore-check does not.
  it('Scenario: a corrupted but checksum-valid archived log region is caught by --restore-check', async () => {
    const { h, repo, m } = await backedUpWithArchive();
    const end = BigInt(m.log.lastLsn);
    const begin = BigInt(m.checkpoint.beginLsn);
    // The last row committed at or before the backup's end, in the archive.
    let victim: { file: string; start: number; end: number; rec: LogRecord & { type: 'enq_insert' } } | undefined;
    for (const a of await archivedLogs(repo.store)) {
      const bytes = (await repo.store.get(`${WAL_DIR}/${a.name}`))!;
      let start = LOG_FILE_HEADER_SIZE;
      let pending: typeof victim;
      scanLogBytes(bytes, a.name, (r, at) => {
        if (r.lsn > begin && r.lsn <= end) {
          if (r.type === 'enq_insert') pending = { file: a.name, start, end: at, rec: r };
          if (r.type === 'xcommit' && pending !== undefined) victim = pending;
        }
        start = at;
      });
    }
    expect(victim).toBeDefined();
    const v = victim!;
    expect(dec.decode(v.rec.value)).toMatch(/^value-\d+$/);
    const key = `${WAL_DIR}/${v.file}`;
    const bytes = (await repo.store.get(key))!.slice();
    const recStart = v.start;
    const forged = encodeRecord({ ...v.rec, value: enc('X'.repeat(v.rec.value.length)) });
    expect(forged.length).toBe(v.end - recStart);
    bytes.set(forged, recStart);
    await repo.store.putAtomic(key, bytes);
    const sidecar = JSON.parse(dec.decode((await repo.store.get(`${key}.json`))!)) as { sha256: string };
    await repo.store.putAtomic(`${key}.json`, encodeJson({ ...sidecar, sha256: sha256Hex(bytes) }));

    // Every checksum still holds...
    expect((await verifyRepo(repo, undefined)).problems).toEqual([]);
    // ...but the state recovered through the archive is not the one the push recorded.
    const rep = await verifyRepo(repo, m.name, { restoreCheck: { storage: h.storage, dir: (n) => `/scratch-${n}` } });
    expect(rep.problems).toHaveLength(1);
    expect(rep.problems[0]).toMatch(new RegExp(`^${m.name}: restore-check: recovered state at LSN ${m.log.lastLsn} holds ${m.contents!.rows} rows .*the manifest records ${m.contents!.rows} .*same row counts, different rows$`));
  });

  // Scenario: a manifest written before contents described the recovered state (no per-dictionary counts, at the checkpoint's LSN) is not compared: a note, not a false problem.
  it('Scenario: an older manifest whose contents are the checkpoint image is not compared', async () => {
    const { h, repo, m } = await backedUpWithArchive();
    const older = { ...m, contents: { atLsn: m.checkpoint.beginLsn, rows: '40', sha256: '0'.repeat(64) } };
    const bytes = encodeJson(older);
    await repo.store.putAtomic(manifestKey(m.name), bytes);
    await repo.store.putAtomic(sentinelKey(m.name), encodeJson({ format: MANIFEST_FORMAT, name: m.name, manifestSha256: sha256Hex(bytes) }));
    const rep = await verifyRepo(new BackupRepo(repo.store), m.name, { restoreCheck: { storage: h.storage, dir: (n) => `/scratch-${n}` } });
    expect(rep.problems).toEqual([]);
    expect(rep.notes).toEqual([expect.stringMatching(new RegExp(`^${m.name}: restore-check: the manifest's contents \\(at LSN ${m.checkpoint.beginLsn}\\) describe the checkpoint image \\(an older manifest\\)`))]);
  });

  // Scenario: a backup pushed without recorded contents is still restored, recovered and tree-checked; the report says there was nothing to compare with.
  it('Scenario: no recorded contents: a note, not a problem', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    for (let i = 0; i < 30; i++) await env.put(t, enc(`k${i}`), enc(`v${i}`));
    const repo = h.repo();
    const m = await env.backup(repo, {});
    await env.close();
    expect(m.contents).toBeUndefined();
    const rep = await verifyRepo(repo, m.name, { restoreCheck: { storage: h.storage, dir: (n) => `/scratch-${n}` } });
    expect(rep.problems).toEqual([]);
    expect(rep.restoreChecked).toEqual([m.name]);
    expect(rep.notes).toEqual([`${m.name}: restore-check: the backup records no contents (pushed without --record-contents): recovered 30 rows at LSN ${m.log.lastLsn}, tree invariants checked, nothing to compare with`]);
  });
});
