/**
 * The repository's disk fills up during a push through the part copier (worker threads writing
 * real files). The disk-full error is the kernel's own: part files from a chosen number on are
 * symbolic links to /dev/full, so the worker's write(2) of that part fails with ENOSPC exactly
 * as on a full file system (no mount, no root, no fake inside the copier).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchBackup } from '../../src/backup/fetch.js';
import { PUSH_PROGRESS_KEY, loadPushProgress } from '../../src/backup/progress.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { TokusimError } from '../../src/base/errors.js';
import { Env } from '../../src/engine/env.js';
import { ioErrorCode } from '../../src/storage/io-error.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { EXIT, describeError, exitCodeFor } from '../../tools/cli-support.js';
import { backupHarness, dumpAll, dumpDir, enc } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tokusim-disk-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real disk whose repository part files numbered `fullFrom` and up are on a full device. */
class FullingStorage extends NodeStorage {
  readonly full: string[] = [];
  private freed = false;
  constructor(private readonly fullFrom: number, private readonly upTo: number, private readonly progressToo = false) {
    super();
  }
  override async mkdir(path: string): Promise<void> {
    await super.mkdir(path);
    if (this.progressToo && !this.freed && path.endsWith('/progress')) {
      const tmp = join(path, 'push.json.tmp-put');
      symlinkSync('/dev/full', tmp);
      this.full.push(tmp);
    }
    if (this.freed || !/\/basebackups\/base_\d+\/p$/.test(path)) return;
    for (let n = this.fullFrom; n <= this.upTo; n++) {
      const part = join(path, String(n).padStart(6, '0'));
      try {
        symlinkSync('/dev/full', part);
        this.full.push(part);
      } catch {
        // Already there (the directory was made before).
      }
    }
  }
  /** The space is freed: the parts are plain files again. */
  free(): void {
    this.freed = true;
    for (const p of this.full.splice(0)) unlinkSync(p);
  }
}

function filesOf(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(d).sort()) out[n] = readFileSync(join(d, n)).toString('base64');
  return out;
}

describe('backup: the repository disk fills up during a push through the part copier', () => {
  // Scenario: a part's write fails with ENOSPC on a worker thread: the push fails with one io error naming that part file (exit 5, as README's table says), the backup is invisible, the progress file lists the parts stored before, the environment keeps every row and works on; once space is freed the next push resumes from the progress file, reuses those parts, and the backup verifies and restores.
  it('Scenario: ENOSPC on a part: one clear error, no visible backup, a later push resumes', async () => {
    const storage = new FullingStorage(5, 200);
    const envDir = join(dir, 'env');
    const repoDir = join(dir, 'repo');
    const env = await Env.open(envDir, { storage, checkpointPeriodMs: 0, owner: 'tester' });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 3000; i += 100) {
      await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(60)) })));
    }
    const before = await dumpAll(env);
    const opts = { hashThreadsFrom: 0, partBytes: 16 << 10, copyThreads: 2, progressEveryParts: 2 };
    const store = new LocalStore(storage, repoDir);

    const err: unknown = await env.backup(new BackupRepo(store), opts).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TokusimError);
    expect(ioErrorCode(err)).toBe('ENOSPC');
    const failedFile = (err as TokusimError).where.file!;
    expect(storage.full).toContain(failedFile);
    // What the CLI prints and its exit code: one line naming the part file and the cause.
    expect(exitCodeFor(err)).toBe(EXIT.IO);
    const line = describeError(err);
    // A write(2) error: the part copier's worker (the main thread's path truncates first, which /dev/full refuses with EINVAL).
    expect(line).not.toMatch(/\n/);
    expect(line).toMatch(new RegExp(`^${failedFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: write failed: ENOSPC`));

    // No backup exists: no sentinel, nothing listed.
    const repo = new BackupRepo(new LocalStore(storage, repoDir));
    expect(await repo.names()).toEqual([]);
    expect(readdirSync(join(repoDir, 'basebackups')).filter((n) => n.endsWith('.sentinel.json'))).toEqual([]);
    expect(await repo.store.get('locks/repo.lease.json')).toBeUndefined();
    // The progress file lists only parts stored before the full one, each durable and with the bytes it claims.
    const progress = await loadPushProgress(repo.store);
    expect(progress).toBeDefined();
    const listed = progress!.parts;
    expect(listed.length).toBeGreaterThanOrEqual(2);
    const failedNo = Number(failedFile.slice(-6));
    for (const p of listed) {
      expect(Number(p.key.slice(-6))).toBeLessThan(failedNo);
      expect(readFileSync(join(repoDir, p.key)).length).toBe(p.length);
    }

    // The source is untouched: every row, and it takes writes and closes cleanly.
    expect(await dumpAll(env)).toEqual(before);
    await env.put(t, enc('after-the-failure'), enc('yes'));
    const live = await dumpAll(env);

    storage.free();
    const resumes: Array<{ exact: boolean }> = [];
    const m = await env.backup(repo, { ...opts, onResume: (r) => resumes.push(r) });
    expect(resumes).toEqual([expect.objectContaining({ exact: true })]);
    expect(m.bytes.reused ?? 0).toBeGreaterThan(0);
    expect(await repo.store.get(PUSH_PROGRESS_KEY)).toBeUndefined();
    await env.close();
    const envFiles = filesOf(envDir);
    expect((await verifyRepo(repo, undefined)).problems).toEqual([]);
    await fetchBackup(repo, m.name, storage, join(dir, 'restored'), { envOptions: { owner: 'tester' } });
    // Fetching read the environment's backup only, never the environment.
    expect(filesOf(envDir)).toEqual(envFiles);
    const back = await Env.open(join(dir, 'restored'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    try {
      expect(await dumpAll(back)).toEqual(live);
    } finally {
      await back.close();
    }
  });

  // Scenario: the disk is full for the progress file as well: the push still reports the part's ENOSPC (not the failed progress save), leaves no progress file and no visible backup, and the next push starts over and succeeds.
  it('Scenario: ENOSPC on a part and on the progress file: the first error is reported, the next push starts over', async () => {
    const storage = new FullingStorage(3, 200, true);
    const env = await Env.open(join(dir, 'env2'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 2000; i += 100) {
      await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(60)) })));
    }
    const opts = { hashThreadsFrom: 0, partBytes: 16 << 10, copyThreads: 2, progressEveryParts: 1 };
    const repoDir = join(dir, 'repo2');
    const err: unknown = await env.backup(new BackupRepo(new LocalStore(storage, repoDir)), opts).then(() => undefined, (e: unknown) => e);
    expect(ioErrorCode(err)).toBe('ENOSPC');
    expect((err as TokusimError).where.file).toMatch(/\/p\/\d{6}$/);
    const repo = new BackupRepo(new LocalStore(storage, repoDir));
    expect(await repo.names()).toEqual([]);
    expect(await loadPushProgress(repo.store)).toBeUndefined();
    storage.free();
    const resumes: unknown[] = [];
    const m = await env.backup(repo, { ...opts, onResume: (r) => resumes.push(r) });
    expect(resumes).toEqual([]);
    expect(m.bytes.reused).toBeUndefined();
    const live = await dumpAll(env);
    await env.close();
    expect((await verifyRepo(repo, undefined)).problems).toEqual([]);
    await fetchBackup(repo, m.name, storage, join(dir, 'restored2'), { envOptions: { owner: 'tester' } });
    const back = await Env.open(join(dir, 'restored2'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    try {
      expect(await dumpAll(back)).toEqual(live);
    } finally {
      await back.close();
    }
  });
});

describe('backup: the disk fills up on the simulated disk (push on the main thread, fetch)', () => {
  // Scenario: the simulated disk fills during a push whose parts go through the main thread: one ENOSPC io error naming a repository file (exit 5), no visible backup, the environment keeps its rows; once space is freed a push completes and restores.
  it('Scenario: ENOSPC during a push on SimStorage', async () => {
    const h = backupHarness(21);
    const env = await h.open();
    const t = await env.createDictionary('t');
    for (let i = 0; i < 400; i += 50) await env.writeBatch(Array.from({ length: 50 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(4, '0')}`), value: enc('w'.repeat(200)) })));
    const before = await dumpAll(env);
    let calls = 0;
    const err: unknown = await env.backup(h.repo(), {
      partBytes: 4096,
      onProgress: () => {
        // Some parts in, the disk has 3000 bytes left.
        if (++calls === 3) h.storage.setCapacity(h.storage.usedBytes() + 3000);
      },
    }).then(() => undefined, (e: unknown) => e);
    expect(ioErrorCode(err)).toBe('ENOSPC');
    expect(exitCodeFor(err)).toBe(EXIT.IO);
    expect((err as TokusimError).where.file).toMatch(/^\/repo\//);
    expect(describeError(err)).not.toMatch(/\n/);
    expect(await h.repo().names()).toEqual([]);
    expect(await dumpAll(env)).toEqual(before);
    h.storage.setCapacity(undefined);
    const m = await env.backup(h.repo(), { partBytes: 4096 });
    await env.close();
    expect((await verifyRepo(h.repo(), undefined)).problems).toEqual([]);
    await fetchBackup(h.repo(), m.name, h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual(before);
  });

  // Scenario: the disk fills during a fetch: one ENOSPC io error naming a file in DEST (exit 5); DEST is no environment (Env.open refuses it) until a rerun into it, once space is freed, completes the restore.
  it('Scenario: ENOSPC during a fetch; the rerun completes DEST', async () => {
    const h = backupHarness(22);
    const env = await h.open();
    const t = await env.createDictionary('t');
    for (let i = 0; i < 400; i += 50) await env.writeBatch(Array.from({ length: 50 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(4, '0')}`), value: enc('w'.repeat(200)) })));
    const m = await env.backup(h.repo(), {});
    const live = await dumpAll(env);
    await env.close();
    h.storage.setCapacity(h.storage.usedBytes() + 20_000);
    const err: unknown = await fetchBackup(h.repo(), m.name, h.storage, '/dest', { envOptions: { clock: h.clock } }).then(() => undefined, (e: unknown) => e);
    expect(ioErrorCode(err)).toBe('ENOSPC');
    expect(exitCodeFor(err)).toBe(EXIT.IO);
    expect((err as TokusimError).where.file).toMatch(/^\/dest\//);
    await expect(Env.open('/dest', { storage: h.storage, clock: h.clock, checkpointPeriodMs: 0, owner: 'tester' })).rejects.toMatchObject({ code: 'TOKUSIM_NOT_AN_ENVIRONMENT' });
    h.storage.setCapacity(undefined);
    await fetchBackup(h.repo(), m.name, h.storage, '/dest', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/dest')).toEqual(live);
  });
});
