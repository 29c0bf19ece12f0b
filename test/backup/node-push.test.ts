import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { loadPushProgress } from '../../src/backup/progress.js';
import { verifyRepo } from '../../src/backup/verify.js';
import { Env } from '../../src/engine/env.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import type { OpenMode, OpenOptions, StorageFile } from '../../src/storage/storage.js';
import { dumpAll, enc } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tokusim-node-push-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('backup: push on a real disk, hashing on worker threads', () => {
  // Scenario: with hash threads (a real device), parts and blocks get the same digests the main thread would: verify finds nothing, and the restore holds every row.
  it('Scenario: a push hashed on worker threads verifies and restores', async () => {
    const storage = new NodeStorage();
    const env = await Env.open(join(dir, 'env'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 3000; i += 100) {
      await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(60)) })));
    }
    const repo = new BackupRepo(new LocalStore(storage, join(dir, 'repo')));
    // Small parts: many blocks straddle a part boundary, and several parts hash at once.
    const m = await env.backup(repo, { hashThreads: 2, hashThreadsFrom: 0, partBytes: 16 << 10, copyThreads: 0 });
    const live = await dumpAll(env);
    await env.close();
    const dict = m.files.find((f) => f.name.endsWith('.tokudb'))!;
    expect(dict.hashing).toBe('blocks');
    expect(dict.parts.length).toBeGreaterThan(4);
    expect((await verifyRepo(repo, undefined)).problems).toEqual([]);
    await fetchBackup(repo, m.name, storage, join(dir, 'restored'), { envOptions: { owner: 'tester' } });
    const back = await Env.open(join(dir, 'restored'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    try {
      expect(await dumpAll(back)).toEqual(live);
    } finally {
      await back.close();
    }
  });

  // Scenario: with the part copier (a local repository on a real disk), the dictionary's parts are written by the worker threads, not through the storage's pwrite; they verify clean and the restore holds every row.
  it('Scenario: a push whose parts are copied and hashed by worker threads verifies and restores', async () => {
    class CountingStorage extends NodeStorage {
      /** Repository part files opened to be written through this storage, and opened only to be fsynced. */
      written = 0;
      adopted = 0;
      override open(path: string, mode: OpenMode, options?: OpenOptions): Promise<StorageFile> {
        if (path.includes('/repo2/') && /\/p\/\d+$/.test(path)) {
          if (mode === 'create') this.written++;
          if (mode === 'readwrite') this.adopted++;
        }
        return super.open(path, mode, options);
      }
    }
    const storage = new CountingStorage();
    const env = await Env.open(join(dir, 'env2'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 3000; i += 100) {
      await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(60)) })));
    }
    const repo = new BackupRepo(new LocalStore(storage, join(dir, 'repo2')));
    // Small parts: many blocks straddle a part boundary (read again on their own), and several parts copy at once.
    const m = await env.backup(repo, { hashThreadsFrom: 0, partBytes: 16 << 10, copyThreads: 2, progressEveryParts: 3 });
    const live = await dumpAll(env);
    await env.close();
    const dicts = m.files.filter((f) => f.role === 'dictionary');
    const dictParts = dicts.reduce((a, f) => a + f.parts.length, 0);
    expect(m.files.find((f) => f.name.endsWith('.tokudb'))!.parts.length).toBeGreaterThan(4);
    expect(storage.adopted).toBe(dictParts);
    // What the storage wrote itself: the identity file and the log, not the dictionaries.
    expect(storage.written).toBe(m.files.filter((f) => f.role !== 'dictionary').reduce((a, f) => a + f.parts.length, 0));
    for (const d of dicts) {
      expect(d.hashing).toBe('blocks');
      expect(d.parts.reduce((a, p) => a + p.length, 0)).toBe(d.size);
    }
    expect((await verifyRepo(repo, undefined)).problems).toEqual([]);
    await fetchBackup(repo, m.name, storage, join(dir, 'restored2'), { envOptions: { owner: 'tester' } });
    const back = await Env.open(join(dir, 'restored2'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    try {
      expect(await dumpAll(back)).toEqual(live);
    } finally {
      await back.close();
    }
  });

  // Scenario: a push through the part copier that fails midway leaves a progress file listing durable parts only (saved beside the copy and after the failure); the rerun holds the same checkpoint, reuses those parts, and the backup verifies and restores.
  it('Scenario: an interrupted push through the part copier resumes from its progress file', async () => {
    const storage = new NodeStorage();
    const env = await Env.open(join(dir, 'env3'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 3000; i += 100) {
      await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(60)) })));
    }
    const store = new LocalStore(storage, join(dir, 'repo3'));
    const opts = { hashThreadsFrom: 0, partBytes: 16 << 10, copyThreads: 2, progressEveryParts: 2 };
    let calls = 0;
    await expect(env.backup(new BackupRepo(store), {
      ...opts,
      onProgress: () => {
        if (++calls === 6) throw new Error('stopped by the test');
      },
    })).rejects.toThrow(/stopped by the test/);
    const progress = await loadPushProgress(store);
    expect(progress?.parts.length ?? 0).toBeGreaterThanOrEqual(5);
    const resumes: Array<{ exact: boolean }> = [];
    const repo = new BackupRepo(new LocalStore(storage, join(dir, 'repo3')));
    const m = await env.backup(repo, { ...opts, onResume: (r) => resumes.push(r) });
    expect(resumes).toEqual([expect.objectContaining({ exact: true })]);
    expect(m.checkpoint.beginLsn).toBe(progress!.source.checkpointLsn);
    expect(m.bytes.reused).toBe(progress!.parts.reduce((a, p) => a + p.length, 0));
    expect(await loadPushProgress(repo.store)).toBeUndefined();
    const live = await dumpAll(env);
    await env.close();
    expect((await verifyRepo(repo, undefined)).problems).toEqual([]);
    await fetchBackup(repo, m.name, storage, join(dir, 'restored3'), { envOptions: { owner: 'tester' } });
    const back = await Env.open(join(dir, 'restored3'), { storage, checkpointPeriodMs: 0, owner: 'tester' });
    try {
      expect(await dumpAll(back)).toEqual(live);
    } finally {
      await back.close();
    }
  });
});
