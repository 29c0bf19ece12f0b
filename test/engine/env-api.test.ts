import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../../src/node/env.js';
import { EnvLockedError, ENV_LOCK_FILE } from '../../src/engine/env-lock.js';
import { LockConflictError } from '../../src/engine/locktree.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { NodeStorage } from '../../src/storage/node-storage.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function harness(o: object = {}) {
  const storage = new SimStorage({ seed: 5 });
  const clock = new VirtualClock();
  const open = (x: object = {}) => Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'api', ...o, ...x });
  return { storage, clock, open };
}

describe('engine: transactions and dictionaries', () => {
  // Scenario: isolation — a txn sees its own writes; another txn sees committed data only; conflicting writes fail at once.
  it('Scenario: own writes visible, others see committed only, write-write conflict is a LockConflictError', async () => {
    const env = await harness().open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('a'), enc('0'));
    const t1 = env.begin();
    const t2 = env.begin();
    await t1.put(d, enc('a'), enc('1'));
    expect(dec(await t1.get(d, enc('a')))).toBe('1');
    expect(dec(await t2.get(d, enc('a')))).toBe('0');
    await expect(t2.put(d, enc('a'), enc('2'))).rejects.toBeInstanceOf(LockConflictError);
    await t1.commit();
    expect(dec(await t2.get(d, enc('a')))).toBe('1');
    await t2.abort();
    await env.close();
  });

  // Scenario: a child txn's writes merge into the parent on commit and vanish on abort.
  it('Scenario: nested child commit merges, child abort discards', async () => {
    const env = await harness().open();
    const d = await env.createDictionary('t');
    const p = env.begin();
    const c1 = env.begin({ parent: p });
    await c1.put(d, enc('x'), enc('1'));
    await expect(p.put(d, enc('y'), enc('0'))).rejects.toThrow(/live child/);
    await c1.commit();
    const c2 = env.begin({ parent: p });
    await c2.put(d, enc('y'), enc('2'));
    expect(dec(await c2.get(d, enc('x')))).toBe('1');
    await c2.abort();
    expect(await p.get(d, enc('y'))).toBeUndefined();
    expect(dec(await p.get(d, enc('x')))).toBe('1');
    await p.commit();
    expect(dec(await env.get(d, enc('x')))).toBe('1');
    expect(await env.get(d, enc('y'))).toBeUndefined();
    await env.close();
  });

  // Scenario: insertIfAbsent and an ordered range cursor over committed rows plus own writes.
  it('Scenario: insertIfAbsent and range cursors (bounds, reverse, limit) merge own writes', async () => {
    const env = await harness().open();
    const d = await env.createDictionary('t');
    for (const k of ['b', 'd', 'f']) await env.put(d, enc(k), enc(k.toUpperCase()));
    const t = env.begin();
    expect(await t.insertIfAbsent(d, enc('b'), enc('no'))).toBe(false);
    expect(await t.insertIfAbsent(d, enc('c'), enc('C'))).toBe(true);
    await t.del(d, enc('d'));
    const keys = async (r: object) => (await t.range(d, r)).map((e) => dec(e.key)).join('');
    expect(await keys({})).toBe('bcf');
    expect(await keys({ gt: enc('b'), lte: enc('f') })).toBe('cf');
    expect(await keys({ reverse: true, limit: 2 })).toBe('fc');
    const seen: string[] = [];
    for await (const e of t.cursor(d, { gte: enc('c') })) seen.push(dec(e.key)!);
    expect(seen).toEqual(['c', 'f']);
    await t.commit();
    expect((await env.begin().range(d)).map((e) => dec(e.value))).toEqual(['B', 'C', 'F']);
    await env.close();
  });

  // Scenario: the dictionary API refuses duplicates, unknown names, and use after commit.
  it('Scenario: dictionary errors and finished-txn errors are TokusimErrors', async () => {
    const env = await harness().open();
    await env.createDictionary('t');
    await expect(env.createDictionary('t')).rejects.toThrow(/already exists/);
    await expect(env.openDictionary('nope')).rejects.toThrow(/no dictionary named nope/);
    await expect(env.createDictionary('bad name')).rejects.toThrow(/dictionary name/);
    const t = env.begin();
    await t.commit();
    await expect(t.put(await env.openDictionary('t'), enc('a'), enc('b'))).rejects.toThrow(/committed/);
    await env.close();
  });

  // Scenario: a read-only open reads what is intact and refuses writes; it works on a crashed env without recovering it.
  it('Scenario: read-only open of a crashed environment reads checkpointed data and refuses writes', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('a'), enc('1'));
    await env.checkpoint();
    await env.put(d, enc('b'), enc('2'));
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const ro = await h.open({ readOnly: true });
    const rd = await ro.openDictionary('t');
    expect(dec(await ro.get(rd, enc('a')))).toBe('1');
    await expect(ro.put(rd, enc('c'), enc('3'))).rejects.toThrow(/read-only/);
    await ro.close();
    const env2 = await h.open();
    expect(dec(await env2.get(await env2.openDictionary('t'), enc('b')))).toBe('2');
    await env2.close();
  });
});

describe('engine: environment lock', () => {
  // Scenario: a second opener is refused naming the holder; after the lease expires it takes over and says so.
  it('Scenario: second open refused; stale lease taken over with an event', async () => {
    const storage = new SimStorage();
    const clock = new VirtualClock();
    const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'first', leaseMs: 1000 });
    const err = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'second' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvLockedError);
    expect((err as EnvLockedError).holder.owner).toBe('first');
    expect(String((err as Error).message)).toMatch(/locked by owner first/);
    env.abandon(); // stops renewing, as a crashed process would
    storage.crash({ mode: 'keep-all' });
    await clock.advance(5000);
    const events: string[] = [];
    const env2 = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'second', onEvent: (e) => events.push(e.type === 'lock-takeover' ? `${e.type}:${e.stale.owner}` : e.type) });
    expect(events).toContain('lock-takeover:first');
    await env2.close();
    expect(await storage.exists(`/env/${ENV_LOCK_FILE}`)).toBe(false);
  });

  // Scenario: on the real file system a lock naming a dead pid is stale at once, a live pid is not.
  it('Scenario: NodeStorage lock with a dead pid is taken over; with a live pid it is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-lock-'));
    try {
      const far = Date.now() + 3_600_000;
      const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'a' });
      await env.close();
      writeFileSync(join(dir, ENV_LOCK_FILE), JSON.stringify({ owner: 'ghost', pid: 2 ** 22 + 12345, leaseExpiresMs: far }));
      const taken: string[] = [];
      const env2 = await Env.open(dir, { storage: new NodeStorage(), checkpointPeriodMs: 0, owner: 'b', onEvent: (e) => e.type === 'lock-takeover' && taken.push(e.reason) });
      expect(taken[0]).toMatch(/not running/);
      await expect(Env.open(dir, { checkpointPeriodMs: 0, owner: 'c' })).rejects.toBeInstanceOf(EnvLockedError);
      await env2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('engine: durability modes', () => {
  async function crashAfterCommits(durability: 'sync' | 'periodic' | 'none', advanceMs: number) {
    const h = harness({ durability, periodMs: 50 });
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.checkpoint();
    for (let i = 0; i < 5; i++) await env.put(d, enc(`k${i}`), enc('v'));
    await h.clock.advance(advanceMs);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    const n = (await env2.begin().range(await env2.openDictionary('t'))).length;
    await env2.close();
    return n;
  }
  // Scenario: sync loses nothing committed; periodic loses nothing once a period has passed, and may lose the last period; none loses everything since the last checkpoint.
  it('Scenario: what a crash loses in sync, periodic and none', async () => {
    expect(await crashAfterCommits('sync', 0)).toBe(5);
    expect(await crashAfterCommits('periodic', 0)).toBe(0);
    expect(await crashAfterCommits('periodic', 200)).toBe(5);
    expect(await crashAfterCommits('none', 200)).toBe(0);
  });

  // Scenario: concurrent sync commits share their durability points (group commit). In sync
  // mode the log is opened with O_DSYNC, so each durability point is one durable write, not an fsync.
  it('Scenario: group commit — 20 concurrent sync commits need fewer than 20 durable log writes, and no fsync', async () => {
    const env = await harness().open();
    const d = await env.createDictionary('t');
    const before = env.status().log!.stats;
    await Promise.all(Array.from({ length: 20 }, (_, i) => env.put(d, enc(`k${i}`), enc('v'))));
    const after = env.status().log!.stats;
    const used = after.durableWrites - before.durableWrites;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(20);
    expect(after.fsyncs - before.fsyncs).toBe(0);
    expect(env.logWriter!.syncedLsn).toBe(env.logWriter!.lastLsn);
    await env.close();
  });
});
