/**
 * `fetch --concurrency N`: up to N repository objects read at once, the restored bytes, the
 * fetch's progress file and its resume the same as one at a time.
 */
import { describe, expect, it } from 'vitest';
import { fetchBackup, RESTORE_PROGRESS, type FetchResult } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore, readOpenFile, type RepoStore } from '../../src/backup/store.js';
import { sha256Hex } from '../../src/backup/hash.js';
import type { Storage } from '../../src/storage/storage.js';
import { backupHarness, dec, dumpAll, dumpDir, enc } from './helpers.js';

/** A store that counts the reads in flight (each waits a turn of the event loop) and can fail one. */
class CountingStore implements RepoStore {
  inFlight = 0;
  maxInFlight = 0;
  gets: string[] = [];
  failOn: ((key: string) => boolean) | undefined;
  constructor(private readonly inner: RepoStore) {}
  get where(): string {
    return this.inner.where;
  }
  put(key: string, data: Uint8Array): Promise<void> {
    return this.inner.put(key, data);
  }
  putAtomic(key: string, data: Uint8Array): Promise<void> {
    return this.inner.putAtomic(key, data);
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.gets.push(key);
    try {
      await new Promise<void>((r) => setImmediate(r));
      if (this.failOn?.(key) === true) {
        this.failOn = undefined;
        throw new Error(`injected read failure of ${key}`);
      }
      return await this.inner.get(key);
    } finally {
      this.inFlight--;
    }
  }
  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
}

/** Every file of dir with its sha256. */
async function filesOf(storage: Storage, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of await storage.list(dir)) {
    const f = await storage.open(`${dir}/${n}`, 'read');
    try {
      out[n] = sha256Hex(await readOpenFile(f));
    } finally {
      await f.close();
    }
  }
  return out;
}

/** Two dictionaries of many parts each (16 KiB parts), a full backup and a delta over it. */
async function repoWithDelta(h: ReturnType<typeof backupHarness>) {
  const env = await h.open();
  const dicts = [await env.createDictionary('a'), await env.createDictionary('b')];
  for (const d of dicts) {
    for (let i = 0; i < 1500; i += 100) {
      await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: d, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(40)) })));
    }
  }
  const repo = new BackupRepo(new LocalStore(h.storage, '/repo'));
  const full = await env.backup(repo, { partBytes: 16 << 10, deltaMaxSteps: 1 });
  for (let i = 0; i < 1500; i += 97) await env.put(dicts[1]!, enc(`k${String(i).padStart(5, '0')}`), enc('changed'));
  const delta = await env.backup(repo, { partBytes: 16 << 10, deltaMaxSteps: 1 });
  expect(delta.kind).toBe('delta');
  const live = await dumpAll(env);
  await env.close();
  return { full, delta, live };
}

describe('backup: fetch --concurrency', () => {
  // Scenario: a delta chain fetched one object at a time and four at a time: the same result, byte-identical files in DEST, the same rows after recovery; four reads were in flight at once, never more.
  it('Scenario: results identical for 1 and 4; up to 4 reads in flight', async () => {
    const h = backupHarness(41);
    const { full, delta, live } = await repoWithDelta(h);
    expect(full.files.filter((f) => f.role === 'dictionary').some((f) => f.parts.length >= 4)).toBe(true);
    const got: Record<number, { r: FetchResult; files: Record<string, string>; max: number; gets: string[] }> = {};
    for (const c of [1, 4]) {
      const store = new CountingStore(new LocalStore(h.storage, '/repo'));
      const r = await fetchBackup(new BackupRepo(store), 'LATEST', h.storage, `/r${c}`, { concurrency: c, recover: false });
      got[c] = { r, files: await filesOf(h.storage, `/r${c}`), max: store.maxInFlight, gets: store.gets };
    }
    expect(got[1]!.max).toBe(1);
    expect(got[4]!.max).toBe(4);
    expect(got[4]!.r).toEqual(got[1]!.r);
    expect(got[4]!.r.chain).toEqual([full.name, delta.name]);
    expect(got[4]!.files).toEqual(got[1]!.files);
    // The same objects were read, each once, in the same order of starting.
    expect(got[4]!.gets).toEqual(got[1]!.gets);
    for (const c of [1, 4]) expect(await dumpDir(h.storage, h.clock, `/r${c}`)).toEqual(live);
  });

  // Scenario: a fetch with --concurrency 4 fails reading a part of a later dictionary file (while later parts are in flight); the progress file lists exactly the files written before, with their final sha256; a rerun with --concurrency 4 keeps them and ends byte-identical to a fetch that never failed.
  it('Scenario: a failed concurrent fetch resumes: progress right, result identical', async () => {
    const h = backupHarness(42);
    const { delta, live } = await repoWithDelta(h);
    await fetchBackup(new BackupRepo(new LocalStore(h.storage, '/repo')), 'LATEST', h.storage, '/clean', { concurrency: 1, recover: false });
    const want = await filesOf(h.storage, '/clean');
    const dictionaries = delta.files.filter((f) => f.role === 'dictionary');
    // The last dictionary file of several parts in its full base (a delta composes from its base's parts first).
    const base = (await new BackupRepo(new LocalStore(h.storage, '/repo')).chain(delta.name))[0]!;
    const at = dictionaries.map((d) => base.files.find((f) => f.name === d.name)!.parts.length >= 2).lastIndexOf(true);
    expect(at).toBeGreaterThan(0);
    const last = base.files.find((f) => f.name === dictionaries[at]!.name)!;
    const store = new CountingStore(new LocalStore(h.storage, '/repo'));
    store.failOn = (k) => k === last.parts[1]!.key;
    const err: unknown = await fetchBackup(new BackupRepo(store), 'LATEST', h.storage, '/dest', { concurrency: 4, recover: false }).then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toBe(`injected read failure of ${last.parts[1]!.key}`);
    expect(store.maxInFlight).toBeGreaterThan(1);
    const progress = JSON.parse(dec((await new LocalStore(h.storage, '/dest', { repository: false }).get(RESTORE_PROGRESS))!)) as { files: Record<string, string> };
    const before = dictionaries.slice(0, at).map((f) => f.name);
    expect(Object.keys(progress.files).sort()).toEqual([...before].sort());
    for (const n of before) {
      expect(want[n], n).toBeDefined();
      expect(progress.files[n], n).toBe(want[n]);
    }
    const again = await fetchBackup(new BackupRepo(new LocalStore(h.storage, '/repo')), 'LATEST', h.storage, '/dest', { concurrency: 4, recover: false });
    expect([...again.kept].sort()).toEqual([...before].sort());
    expect(await filesOf(h.storage, '/dest')).toEqual(want);
    expect(await dumpDir(h.storage, h.clock, '/dest')).toEqual(live);
  });
});
