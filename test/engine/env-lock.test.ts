import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env, type EnvEvent } from '../../src/node/env.js';
import { ENV_LOCK_FILE, EnvLockedError, EnvLockUnreadableError } from '../../src/engine/env-lock.js';
import { TokusimError } from '../../src/base/errors.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { ioError } from '../../src/storage/io-error.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { environmentStatus } from '../../src/node/env.js';
import { exitCodeFor, EXIT } from '../../tools/cli-support.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const LOCK = `/env/${ENV_LOCK_FILE}`;

async function rows(storage: SimStorage, clock: VirtualClock): Promise<string[]> {
  const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'reader' });
  try {
    return (await env.begin().range(await env.openDictionary('t'))).map((e) => dec(e.key));
  } finally {
    await env.close();
  }
}

/** Every file under /env with what a reader sees in it now. */
async function image(storage: SimStorage): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of await storage.list('/env')) out[n] = Buffer.from(storage.fileBytes(`/env/${n}`) ?? []).toString('hex');
  return out;
}

describe('engine: env lock fencing (virtual clock)', () => {
  // Scenario: the holder's renewals fail (the disk refuses its lock temporaries), so its lease
  // runs out; a second owner takes the expired lock over. From the moment its own lease lapsed
  // the first holder writes nothing: its next commit fails with the lock's 'locked' error, the
  // environment stays failed, and close writes nothing either; the second holder's commits and
  // the first holder's acknowledged ones are all there afterwards.
  it('Scenario: a holder whose lease lapsed is fenced: no byte written after, the taker owns the env', async () => {
    const storage = new SimStorage();
    const clock = new VirtualClock();
    const a = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a', leaseMs: 3000 });
    const t = await a.createDictionary('t');
    await a.put(t, enc('a-acked'), enc('1'));

    let refuseRenewals = true;
    let writesByA = 0;
    let counting = false;
    storage.onIo((ev) => {
      if (refuseRenewals && ev.path.includes(`${ENV_LOCK_FILE}.new-`) && ev.op === 'open') throw ioError('open', ev.path, 'EIO', 'disk refuses');
      if (counting && ['pwrite', 'truncate', 'fsync', 'rename', 'link', 'unlink', 'fsyncDir', 'mkdir'].includes(ev.op)) writesByA++;
    });
    await clock.advance(2500); // renewals at 1000 and 2000 failed; the lease lapsed at 2250
    refuseRenewals = false;
    counting = true;
    const disk = await image(storage);
    const err = await a.put(t, enc('a-late'), enc('2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).kind).toBe('locked');
    expect((err as Error).message).toMatch(/environment lock lost: its lease lapsed/);
    await expect(a.get(t, enc('a-acked'))).rejects.toThrow(/environment lock lost/);
    expect(writesByA).toBe(0);
    expect(await image(storage)).toEqual(disk);
    counting = false;

    await clock.advance(1000); // past the lease in the file (3000)
    const events: EnvEvent[] = [];
    const b = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'b', onEvent: (e) => events.push(e) });
    expect(events.some((e) => e.type === 'lock-takeover' && e.stale.owner === 'a' && /lease expired/.test(e.reason))).toBe(true);
    await b.put(await b.openDictionary('t'), enc('b-acked'), enc('3'));

    counting = true;
    const before = await image(storage);
    await a.close(); // failed: writes nothing, and leaves b's lock alone
    expect(writesByA).toBe(0);
    expect(await image(storage)).toEqual(before);
    counting = false;
    expect(dec(storage.fileBytes(LOCK)!)).toMatch(/"owner":"b"/);
    await b.close();
    expect(await rows(storage, clock)).toEqual(['a-acked', 'b-acked']);
  });

  // Scenario: a renewal finds the lock file replaced by someone else: the holder fails at once.
  it('Scenario: a holder whose lock file was replaced fails closed at its next renewal', async () => {
    const storage = new SimStorage();
    const clock = new VirtualClock();
    const a = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a', leaseMs: 3000 });
    const t = await a.createDictionary('t');
    const other = JSON.stringify({ owner: 'intruder', pid: 1, leaseExpiresMs: 1_704_067_200_000 + 60_000 }) + '\n';
    const f = await storage.open(LOCK, 'readwrite');
    await f.truncate(0);
    await f.pwrite(enc(other), 0);
    await f.close();
    await clock.advance(1000);
    await expect(a.put(t, enc('x'), enc('1'))).rejects.toThrow(/environment lock lost: the lock file now names another holder/);
    await a.close();
    expect(dec(storage.fileBytes(LOCK)!)).toBe(other);
  });
});

describe('engine: env lock without hard links', () => {
  // Scenario: a file system that cannot make hard links (link fails with EPERM): the lock
  // falls back to creating the lock name exclusively and writing it; it still refuses a
  // second opener and is removed at close.
  it('Scenario: link unsupported: the lock is created exclusively instead and works the same', async () => {
    const storage = new SimStorage();
    storage.link = (_a: string, b: string) => Promise.reject(ioError('link', b, 'EPERM', 'no hard links here'));
    const clock = new VirtualClock();
    const a = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a' });
    expect(dec(storage.fileBytes(LOCK)!)).toMatch(/^\{"owner":"a",.*\}\n$/);
    await expect(Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'b' })).rejects.toBeInstanceOf(EnvLockedError);
    await a.close();
    expect((await storage.list('/env')).filter((n) => n.startsWith(ENV_LOCK_FILE))).toEqual([]);
  });
});

describe('engine: two takers of one stale lock', () => {
  // Property: for every interleaving seed, when two openers find the same expired lock at once,
  // exactly one gets the environment and the other is refused with a 'locked' error.
  it('Scenario: two openers of an expired lock, 24 interleavings: exactly one wins each time', async () => {
    let refusedByClaim = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const storage = new SimStorage({ seed, ioJitter: 6 });
      const clock = new VirtualClock();
      const a = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a', leaseMs: 1000 });
      await a.createDictionary('t');
      a.abandon();
      await clock.advance(5000);
      const opens = await Promise.allSettled(['b', 'c'].map((owner) => Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner })));
      const won = opens.filter((o) => o.status === 'fulfilled');
      const lost = opens.filter((o) => o.status === 'rejected');
      expect(won.length, `seed ${seed}`).toBe(1);
      const reason = (lost[0] as PromiseRejectedResult).reason as TokusimError;
      expect(reason.kind, `seed ${seed}: ${reason.message}`).toBe('locked');
      if (/being taken over/.test(reason.message)) refusedByClaim++;
      await (won[0] as PromiseFulfilledResult<Env>).value.close();
      expect(await storage.exists(LOCK)).toBe(false);
      expect((await storage.list('/env')).filter((n) => n.startsWith(ENV_LOCK_FILE))).toEqual([]);
    }
    // Some interleavings meet the other taker's claim (the rest meet its finished lock).
    expect(refusedByClaim).toBeGreaterThan(0);
  });
});

describe('engine: foreign or damaged lock content', () => {
  const bad: Array<[string, string]> = [
    ['a lease of 1e300', JSON.stringify({ owner: 'x', pid: 1, leaseExpiresMs: 1e300 })],
    ['a NaN lease (not JSON)', '{"owner":"x","pid":1,"leaseExpiresMs":NaN}'],
    ['a negative lease', JSON.stringify({ owner: 'x', pid: 1, leaseExpiresMs: -5 })],
    ['a string lease', JSON.stringify({ owner: 'x', pid: 1, leaseExpiresMs: 'tomorrow' })],
    ['garbage bytes', '\u00ff\u0001garbage'],
    ['a JSON array', '[1,2,3]'],
    ['an empty file', ''],
  ];
  for (const [what, content] of bad) {
    // Scenario: the lock file holds something tokusim never writes; the open is refused with a
    // clear 'locked' error naming the file, the file is left exactly as it was, and nothing
    // else is created in the directory.
    it(`Scenario: a lock file with ${what} is refused clearly and left alone`, async () => {
      const storage = new SimStorage();
      storage.installFile(LOCK, enc(content));
      const err = await Env.open('/env', { storage, clock: new VirtualClock(), checkpointPeriodMs: 0, owner: 'o' }).catch((e: unknown) => e);
      expect(dec(storage.fileBytes(LOCK)!)).toBe(content);
      expect(await storage.list('/env')).toEqual([ENV_LOCK_FILE]);
      expect((err as TokusimError).kind).toBe('locked');
      expect(exitCodeFor(err)).toBe(EXIT.LOCKED);
      expect((err as Error).message).toContain(LOCK);
      expect((err as Error).message).toMatch(/not a tokusim lock record/);
      expect(err).toBeInstanceOf(EnvLockUnreadableError);
    });
  }

  // Scenario: `tokusim status` on a directory whose lock has a lease of 1e300 reports it as
  // unreadable instead of failing with an internal error.
  it('Scenario: status reports an unreadable lock without an internal error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-lock-bad-'));
    try {
      await (await Env.open(dir, { checkpointPeriodMs: 0 })).close();
      const content = JSON.stringify({ owner: 'x', pid: process.pid, leaseExpiresMs: 1e300 });
      writeFileSync(join(dir, ENV_LOCK_FILE), content);
      const out = await environmentStatus(new NodeStorage(), dir);
      expect(out).toMatch(/lock: unreadable \(leaseExpiresMs 1e\+300 is not a time in ms/);
      await expect(Env.open(dir, { checkpointPeriodMs: 0 })).rejects.toBeInstanceOf(EnvLockUnreadableError);
      expect(readFileSync(join(dir, ENV_LOCK_FILE), 'utf8')).toBe(content);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('engine: env lock on one host', () => {
  // Scenario: a lock naming a live pid of this host (our parent process) with its real start
  // time is refused though its lease expired long ago; the same pid with another start time
  // (the pid was reused after the holder died) is stale at once.
  it('Scenario: a live pid with its start time is never taken over; a reused pid is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-lock-pid-'));
    try {
      const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'a' });
      await env.close();
      const stat = readFileSync(`/proc/${process.ppid}/stat`, 'latin1');
      const startTicks = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19]!;
      const me = { host: hostname(), bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim(), pidNs: readlinkSync('/proc/self/ns/pid') };
      const path = join(dir, ENV_LOCK_FILE);
      const record = { ...me, owner: 'parent', pid: process.ppid, thread: 0, startTicks, leaseExpiresMs: 1000, token: 'p' };
      writeFileSync(path, JSON.stringify(record) + '\n');
      const err = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'b' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvLockedError);
      expect((await environmentStatus(new NodeStorage(), dir)).split('\n')[1]).toMatch(/^lock: owner parent pid \d+ lease until 1970-01-01T00:00:01.000Z \(held\)$/);
      writeFileSync(path, JSON.stringify({ ...record, startTicks: String(Number(startTicks) + 1) }) + '\n');
      const reasons: string[] = [];
      const b = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'b', onEvent: (e) => e.type === 'lock-takeover' && reasons.push(e.reason) });
      expect(reasons).toEqual([`pid ${process.ppid} is now another process (another start time)`]);
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Scenario: a lock held by a live Env of this very process is refused even when its lease
  // has run out (the process can see it holds it); once that Env is abandoned (a crash), the
  // lock is stale at once.
  it('Scenario: this process holds it: refused whatever the lease; abandoned: taken over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-lock-self-'));
    try {
      const a = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'a' });
      const path = join(dir, ENV_LOCK_FILE);
      const rec = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      writeFileSync(path, JSON.stringify({ ...rec, leaseExpiresMs: 1000 }) + '\n');
      const err = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'b' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvLockedError);
      a.abandon();
      const reasons: string[] = [];
      const b = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'b', onEvent: (e) => e.type === 'lock-takeover' && reasons.push(e.reason) });
      expect(reasons).toEqual([`it names this process (pid ${process.pid}), which does not hold it`]);
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('engine: the default lease outlasts a long stall', () => {
  /** A clock whose timers never fire: the host's event loop is stalled; time moves when told. */
  class StalledClock extends VirtualClock {
    override setTimer(): { cancel: () => void } {
      return { cancel: () => undefined };
    }
  }

  // Scenario: with the default lease, a holder whose event loop could not run its renewal timer
  // for 40 s (a long synchronous batch, a full GC on a loaded machine) still writes; past 3/4 of
  // the lease without a renewal (45 s) it fences itself and the write fails with 'locked'.
  it('Scenario: 40 s without a renewal keeps the lock; past 45 s the holder is fenced', async () => {
    const storage = new SimStorage({ seed: 2 });
    const clock = new StalledClock();
    const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a' });
    const d = await env.createDictionary('t');
    await clock.advance(40_000);
    await env.put(d, new TextEncoder().encode('k'), new TextEncoder().encode('v'));
    await clock.advance(6_000);
    const err = await env.put(d, new TextEncoder().encode('k2'), new TextEncoder().encode('v')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).kind).toBe('locked');
    env.abandon();
  });
});

describe('engine: an opener whose listing names the lock file judges it before publishing', () => {
  const WRITES = ['open', 'pwrite', 'truncate', 'fsync', 'rename', 'link', 'unlink', 'fsyncDir', 'mkdir'];

  // Scenario: a second opener of a held environment is refused without writing anything: it
  // reads the lock it saw in the directory before making a temporary it could not link.
  it('Scenario: refused by a live holder, the second opener writes nothing', async () => {
    const storage = new SimStorage({ seed: 5 });
    const clock = new VirtualClock();
    const a = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a' });
    const ops: string[] = [];
    const stop = storage.onIo((ev) => ops.push(`${ev.op} ${ev.path}`));
    const before = await image(storage);
    await expect(Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'b' })).rejects.toBeInstanceOf(EnvLockedError);
    stop();
    // Reads only ('open' here is of a file for reading: the identity file and the lock).
    expect(ops.filter((o) => WRITES.includes(o.split(' ')[0]!) && !/__tokusim_env_(identity|lock)$/.test(o))).toEqual([]);
    expect(ops.some((o) => o.startsWith('pwrite') || o.startsWith('link'))).toBe(false);
    expect(await image(storage)).toEqual(before);
    await a.close();
  });

  // Scenario: the lock a crash left (same owner) is taken over with two links, the claim's and
  // the new record's; no publish that must fail comes first. The environment opens and holds
  // only its own lock file afterwards.
  it('Scenario: a lock left by a crash is taken over with one claim and one publish', async () => {
    const storage = new SimStorage({ seed: 6 });
    const clock = new VirtualClock();
    const a = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a' });
    await a.createDictionary('t');
    a.abandon();
    storage.crash({ mode: 'keep-all' });
    const links: string[] = [];
    const stop = storage.onIo((ev) => {
      if (ev.op === 'link') links.push(ev.path);
    });
    const events: EnvEvent[] = [];
    const b = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'a', onEvent: (e) => events.push(e) });
    stop();
    expect(links.length).toBe(2);
    expect(events.some((e) => e.type === 'lock-takeover')).toBe(true);
    expect(dec(storage.fileBytes(LOCK)!)).toContain('"owner":"a"');
    expect((await storage.list('/env')).filter((n) => n.startsWith(ENV_LOCK_FILE))).toEqual([ENV_LOCK_FILE]);
    await b.close();
  });
});
