import { describe, expect, it } from 'vitest';
import { fetchBackup } from '../../src/backup/fetch.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LocalStore } from '../../src/backup/store.js';
import { backupHarness, dumpAll, dumpDir, enc } from './helpers.js';

describe('backup: push and fetch', () => {
  // Scenario: a backup taken while a client keeps committing restores to exactly the rows committed when its log copy ended.
  it('Scenario: hot full backup, clients write during the copy; the restore equals the committed state at the backup end', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    const u = await env.createDictionary('u');
    for (let i = 0; i < 300; i++) await env.put(t, enc(`k${i}`), enc(`v${i}`));
    for (let i = 0; i < 50; i++) await env.put(u, enc(`u${i}`), enc(`x${i}`));
    const repo = h.repo();
    let writes = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        await env.put(t, enc(`k${writes % 300}`), enc(`w${writes}`));
        writes++;
      }
    })();
    // Recording the contents restores and recovers the copy in scratch storage (docs/backup.md).
    const m = await env.backup(repo, { contents: { storage: h.storage, dir: '/contents-scratch' } });
    stop = true;
    await writer;
    expect(writes).toBeGreaterThan(0);
    expect(m.kind).toBe('full');
    expect(await repo.names()).toEqual([m.name]);
    const live = await dumpAll(env);
    await env.close();
    const r = await fetchBackup(repo, 'LATEST', h.storage, '/restore', { envOptions: { clock: h.clock } });
    expect(r.name).toBe(m.name);
    const restored = await dumpDir(h.storage, h.clock, '/restore');
    // One writer commits in order, so the restore must be the state after some prefix of its
    // writes: the newest write it holds decides which prefix, and every key must agree with it.
    expect(Object.keys(restored).sort()).toEqual(['t', 'u']);
    expect(restored['u']).toEqual(live['u']);
    const newest = Math.max(-1, ...Object.values(restored['t']!).filter((v) => v.startsWith('w')).map((v) => Number(v.slice(1))));
    const model: Record<string, string> = {};
    for (let i = 0; i < 300; i++) model[`k${i}`] = `v${i}`;
    for (let n = 0; n <= newest; n++) model[`k${n % 300}`] = `w${n}`;
    expect(restored['t']).toEqual(model);
    expect(newest).toBeGreaterThanOrEqual(0);
    expect(BigInt(m.log.lastLsn)).toBeGreaterThanOrEqual(BigInt(m.checkpoint.endLsn));
    expect(m.contents?.rows).toBe('350');
    expect(m.contents?.atLsn).toBe(m.log.lastLsn);
    expect(m.contents?.dictionaries).toEqual({ t: '300', u: '50' });
    // The scratch restore is removed again.
    expect(await h.storage.list('/contents-scratch')).toEqual([]);
  });

  // Scenario: --concurrency keeps up to N part uploads in flight (never more), --rate-limit paces them: the waits add up to the bytes over the rate.
  it('Scenario: concurrency and rate limit of a push', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    await env.writeBatch(Array.from({ length: 400 }, (_, i) => ({ dict: t, op: 'insert' as const, key: enc(`k${i}`), value: enc('z'.repeat(100)) })));
    const store = new LocalStore(h.storage, '/repo');
    let inFlight = 0;
    let most = 0;
    const sizes: number[] = [];
    const real = store.put.bind(store);
    store.put = async (k, d) => {
      inFlight++;
      most = Math.max(most, inFlight);
      sizes.push(d.length);
      await new Promise((r) => setImmediate(r));
      await real(k, d);
      inFlight--;
    };
    let now = 0;
    const slept: number[] = [];
    const rate = 10_000;
    const m = await env.backup(new BackupRepo(store), { partBytes: 2048, concurrency: 3, rateLimit: rate, now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) });
    expect(most).toBe(3);
    expect(sizes.length).toBeGreaterThan(6);
    // No time passes on its own here, so the waits are exactly the time all but the last part take at the rate.
    const before = sizes.slice(0, -1).reduce((a, b) => a + b, 0);
    expect(slept.reduce((a, b) => a + b, 0)).toBeCloseTo((before / rate) * 1000, 6);
    expect(m.bytes.sent).toBe(sizes.reduce((a, b) => a + b, 0));
    const live = await dumpAll(env);
    await env.close();
    await fetchBackup(new BackupRepo(store), 'LATEST', h.storage, '/r', { envOptions: { clock: h.clock } });
    expect(await dumpDir(h.storage, h.clock, '/r')).toEqual(live);
  });

  // Scenario: fetch --rate-limit paces every read of the repository after the manifests: the waits add up to the bytes read before the last read, at the rate; the restore is the same.
  it('Scenario: rate limit of a fetch', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    await env.writeBatch(Array.from({ length: 400 }, (_, i) => ({ dict: t, op: 'insert' as const, key: enc(`k${i}`), value: enc('z'.repeat(100)) })));
    const m = await env.backup(h.repo(), { partBytes: 2048 });
    const live = await dumpAll(env);
    await env.close();
    const repo = h.repo();
    // Manifests read now are cached: every read the fetch makes is of parts, log files and the archive.
    await repo.chain(m.name);
    const sizes: number[] = [];
    const real = repo.store.get.bind(repo.store);
    repo.store.get = async (k) => {
      const b = await real(k);
      sizes.push(b?.length ?? 0);
      return b;
    };
    let now = 0;
    const slept: number[] = [];
    const rate = 50_000;
    await fetchBackup(repo, m.name, h.storage, '/paced', { rateLimit: rate, paceNow: () => now, paceSleep: async (ms) => void (slept.push(ms), (now += ms)), envOptions: { clock: h.clock } });
    expect(sizes.length).toBeGreaterThan(5);
    expect(slept.length).toBeGreaterThan(3);
    expect(slept.reduce((a, b) => a + b, 0)).toBeCloseTo((sizes.slice(0, -1).reduce((a, b) => a + b, 0) / rate) * 1000, 6);
    expect(await dumpDir(h.storage, h.clock, '/paced')).toEqual(live);
  });
});
