import { describe, expect, it } from 'vitest';
import { fetchBackup } from '../../src/backup/fetch.js';
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
    const m = await env.backup(repo, {});
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
    expect(m.contents.rows).toBe('350');
  });
});
