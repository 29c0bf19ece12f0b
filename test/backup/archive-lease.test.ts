import { describe, expect, it } from 'vitest';
import { archiveClosedLogs, archivedLogs } from '../../src/backup/archive.js';
import { Lease } from '../../src/backup/lease.js';
import { LOCK_KEY, WAL_LOCK_KEY } from '../../src/backup/manifest.js';
import { backupHarness, enc } from './helpers.js';

describe('backup: log archive takes a lease', () => {
  // Scenario: a live archive lease of another tool is refused naming owner and expiry, nothing is archived; once it expired the next run takes it over, archives, and releases it.
  it('Scenario: a live archive lease is refused; an expired one is taken over', async () => {
    const h = backupHarness();
    const env = await h.open({ lgMax: 2048 });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 40; i++) await env.put(t, enc(`k${i}`), enc('v'.repeat(100)));
    // Left as a crash leaves it: closing would checkpoint and trim the closed files away.
    env.abandon();
    const repo = h.repo();
    let now = 1_000_000;
    await Lease.acquire(repo.store, WAL_LOCK_KEY, { id: 'other:1', op: 'log archive', now: () => now, ttlMs: 60_000 });
    await expect(archiveClosedLogs(repo.store, h.storage, '/env', { leaseId: 'me:2', now: () => now })).rejects.toThrow(
      `/repo is held by log archive other:1 until ${new Date(1_060_000).toISOString()} (its lease); wait for it to finish or expire`,
    );
    expect(await archivedLogs(repo.store)).toEqual([]);
    // The repository's lease (a push) does not stop archiving, and the archive's does not stop a push.
    await Lease.acquire(repo.store, LOCK_KEY, { id: 'pusher:3', op: 'push', now: () => now, ttlMs: 600_000 });
    now += 60_001;
    const done = await archiveClosedLogs(repo.store, h.storage, '/env', { leaseId: 'me:2', now: () => now });
    expect(done.length).toBeGreaterThan(1);
    expect((await archivedLogs(repo.store)).map((a) => a.name)).toEqual(done);
    expect(await repo.store.get(WAL_LOCK_KEY)).toBeUndefined();
    expect(await repo.store.get(LOCK_KEY)).toBeDefined();
  });
});
