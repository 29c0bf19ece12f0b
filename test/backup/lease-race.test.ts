/**
 * Two tools racing for a repository's lease. The object store is a double of S3 that honours
 * conditional writes as S3 does (`If-None-Match: *` and `If-Match: <ETag>` on PutObject, 412
 * when they do not hold), behind the real S3Store; s3rver cannot show this (it ignores both
 * headers on PUT: s3.test.ts probes that). The two tools' calls are put in the order that
 * lets both in when the store does not check the condition: both read "no lease", then one
 * writes and reads its lease back before the other writes.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it, vi } from 'vitest';
import { archiveClosedLogs, archivedLogs } from '../../src/backup/archive.js';
import { Lease, type LeaseRecord } from '../../src/backup/lease.js';
import { LOCK_KEY, WAL_LOCK_KEY } from '../../src/backup/manifest.js';
import { loadPushProgress } from '../../src/backup/progress.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { S3Store } from '../../src/backup/s3-store.js';
import { LocalStore, type RepoStore } from '../../src/backup/store.js';
import { TokusimError } from '../../src/base/errors.js';
import { MachineHalted, type Storage } from '../../src/storage/storage.js';
import { EXIT, exitCodeFor } from '../../tools/cli-support.js';
import { backupHarness, dec, enc } from './helpers.js';

interface Obj {
  bytes: Uint8Array;
  etag: string;
}

type Cmd = { input: { Key?: string; Prefix?: string; Delimiter?: string; Body?: Uint8Array; IfNoneMatch?: string; IfMatch?: string } };

const s3Error = (status: number, name: string): Error => Object.assign(new Error(`${name} (store double)`), { name, $metadata: { httpStatusCode: status } });

/** An in-memory S3 bucket; `conditions` says whether PUT honours If-None-Match / If-Match, and DELETE If-Match. */
class FakeBucket {
  readonly objects = new Map<string, Obj>();
  /** Every lease object written, in order. */
  readonly leaseWrites: LeaseRecord[] = [];
  private serial = 0;
  /** Calls that carried a conditional header, and of those the DELETEs. */
  conditionalCalls = 0;
  conditionalDeletes = 0;
  constructor(private readonly conditions: boolean | 'not-implemented') {}

  /** A client of this bucket; `before` runs before each call (to order two clients' calls). */
  client(before: (cmd: unknown) => Promise<void> = async () => undefined, after: (cmd: unknown) => void = () => undefined): S3Client {
    return { send: async (cmd: unknown) => {
      await before(cmd);
      const r = this.handle(cmd);
      // The call was carried out; `after` may still lose its answer (throw).
      after(cmd);
      return r;
    } } as unknown as S3Client;
  }

  private handle(cmd: unknown): unknown {
    const { input } = cmd as Cmd;
    const have = input.Key === undefined ? undefined : this.objects.get(input.Key);
    if (cmd instanceof GetObjectCommand) {
      if (have === undefined) throw s3Error(404, 'NoSuchKey');
      return { ETag: have.etag, Body: { transformToByteArray: async () => have.bytes.slice() } };
    }
    if (cmd instanceof PutObjectCommand) {
      if (input.IfNoneMatch !== undefined || input.IfMatch !== undefined) {
        this.conditionalCalls++;
        if (this.conditions === 'not-implemented') throw s3Error(501, 'NotImplemented');
      }
      if (this.conditions === true && input.IfNoneMatch === '*' && have !== undefined) throw s3Error(412, 'PreconditionFailed');
      if (this.conditions === true && input.IfMatch !== undefined && have?.etag !== input.IfMatch) throw s3Error(412, 'PreconditionFailed');
      const etag = `"${++this.serial}"`;
      const bytes = new Uint8Array(input.Body!);
      this.objects.set(input.Key!, { bytes, etag });
      if (input.Key!.endsWith('.lease.json')) this.leaseWrites.push(JSON.parse(dec(bytes)) as LeaseRecord);
      return { ETag: etag };
    }
    if (cmd instanceof DeleteObjectCommand) {
      if (input.IfMatch !== undefined) {
        this.conditionalCalls++;
        this.conditionalDeletes++;
        if (this.conditions === 'not-implemented') throw s3Error(501, 'NotImplemented');
        if (this.conditions === true && have === undefined) throw s3Error(404, 'NoSuchKey');
        if (this.conditions === true && have!.etag !== input.IfMatch) throw s3Error(412, 'PreconditionFailed');
      }
      this.objects.delete(input.Key!);
      return {};
    }
    if (cmd instanceof ListObjectsV2Command) {
      const prefix = input.Prefix ?? '';
      const dirs = new Set<string>();
      const contents: Array<{ Key: string }> = [];
      for (const k of [...this.objects.keys()].sort()) {
        if (!k.startsWith(prefix)) continue;
        const rest = k.slice(prefix.length);
        const slash = input.Delimiter === undefined ? -1 : rest.indexOf(input.Delimiter);
        if (slash >= 0) dirs.add(prefix + rest.slice(0, slash + 1));
        else contents.push({ Key: k });
      }
      return { Contents: contents, CommonPrefixes: [...dirs].map((Prefix) => ({ Prefix })), IsTruncated: false };
    }
    throw new Error('store double: command not modelled');
  }
}

/**
 * Two stores over one local repository at /repo whose first reads of the lease (one each) both
 * return only after both have read it: both tools then act on what they read before either wrote.
 */
function storesThatReadTogether(storage: Storage): { stores: [LocalStore, LocalStore]; reads: () => number } {
  const bothRead = deferred();
  let reads = 0;
  class GatedStore extends LocalStore {
    override async get(key: string): Promise<Uint8Array | undefined> {
      const r = await super.get(key);
      if (key === LOCK_KEY && ++reads <= 2) {
        if (reads === 2) bothRead.resolve();
        await bothRead.promise;
      }
      return r;
    }
  }
  return { stores: [new GatedStore(storage, '/repo'), new GatedStore(storage, '/repo')], reads: () => reads };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const isLeaseCall = (cmd: unknown): boolean => ((cmd as Cmd).input?.Key ?? '').endsWith('.lease.json');

/**
 * The order that defeats a read-then-write lease: A and B both read the lease (absent or
 * expired) before either writes; A writes and reads it back; only then does B write (and read back).
 */
function racingOrder(): { a: (cmd: unknown) => Promise<void>; b: (cmd: unknown) => Promise<void>; bSettled: () => void } {
  const bRead = deferred();
  const aReadBack = deferred();
  const bDone = deferred();
  let aGets = 0;
  let bGets = 0;
  let bPuts = 0;
  let aHeld = false;
  return {
    bSettled: bDone.resolve,
    a: async (cmd) => {
      // A works on (a push's parts...) only once B's try is over: A still holds the lease then.
      if (!isLeaseCall(cmd) && aGets >= 2 && !aHeld) {
        aHeld = true;
        await bDone.promise;
      }
      if (!isLeaseCall(cmd) || !(cmd instanceof GetObjectCommand)) return;
      aGets++;
      if (aGets === 1) await bRead.promise;
      // A's calls from its read-back on: by the time B's write goes out, A has read its lease back.
      if (aGets >= 2) aReadBack.resolve();
    },
    b: async (cmd) => {
      if (!isLeaseCall(cmd)) return;
      if (cmd instanceof GetObjectCommand && ++bGets === 1) bRead.resolve();
      if (cmd instanceof PutObjectCommand && ++bPuts === 1) {
        await aReadBack.promise;
        await new Promise<void>((r) => setImmediate(r));
      }
    },
  };
}

const s3At = (bucket: FakeBucket, before: (cmd: unknown) => Promise<void>, prefix = 'repo'): S3Store => new S3Store({ bucket: 'race', prefix, client: bucket.client(before), retry: { sleep: async () => undefined } });

async function smallEnv(h: ReturnType<typeof backupHarness>, dir: string) {
  const env = await h.open({}, dir);
  const t = await env.createDictionary('t');
  await env.writeBatch(Array.from({ length: 50 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${j}`), value: enc(`v${j}`) })));
  return env;
}

function lockedMessage(where: string, op: string, r: LeaseRecord, key = LOCK_KEY): string {
  return `${where}/${key}: ${where} is held by ${op} ${r.id} until ${r.expireAt} (its lease); wait for it to finish or expire`;
}

describe('backup: two tools racing for a lease', () => {
  // Scenario: without conditional writes the racing order lets both tools take the lease (the window docs/backup.md describes for s3rver); with S3's conditional writes the same order lets exactly one in.
  it('Scenario: the racing order lets both in without conditions, exactly one with them', async () => {
    for (const conditions of [false, true]) {
      const bucket = new FakeBucket(conditions);
      const order = racingOrder();
      const got = await Promise.allSettled([
        Lease.acquire(s3At(bucket, order.a), LOCK_KEY, { id: 'a:1', op: 'push', now: () => 1000 }),
        Lease.acquire(s3At(bucket, order.b), LOCK_KEY, { id: 'b:2', op: 'push', now: () => 1000 }),
      ]);
      expect(got.map((g) => g.status)).toEqual(conditions ? ['fulfilled', 'rejected'] : ['fulfilled', 'fulfilled']);
      if (conditions) {
        expect((got[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: lockedMessage('s3://race/repo', 'push', bucket.leaseWrites[0]!) });
        // B's conditional write never landed: the one lease written is A's.
        expect(bucket.leaseWrites.map((r) => r.id)).toEqual(['a:1']);
      }
    }
  });

  // Scenario: two pushes of two environments start at once into one S3 repository: exactly one backup is made; the other push fails with TOKUSIM_REPO_LOCKED naming the winner and its expiry (exit 7) and leaves nothing behind.
  it('Scenario: two concurrent pushes to one S3 repository: one wins, the other is refused with exit 7', async () => {
    const bucket = new FakeBucket(true);
    const order = racingOrder();
    const ha = backupHarness(1);
    const hb = backupHarness(2);
    const envA = await smallEnv(ha, '/envA');
    const envB = await smallEnv(hb, '/envB');
    const [a, b] = await Promise.allSettled([
      envA.backup(new BackupRepo(s3At(bucket, order.a)), { leaseId: 'a:1' }),
      envB.backup(new BackupRepo(s3At(bucket, order.b)), { leaseId: 'b:2' }).finally(order.bSettled),
    ]);
    await envA.close();
    await envB.close();
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    const err = (b as PromiseRejectedResult).reason as TokusimError;
    const winner = bucket.leaseWrites[0]!;
    expect(winner.id).toBe('a:1');
    expect(err.message).toBe(lockedMessage('s3://race/repo', 'push', winner));
    expect(exitCodeFor(err)).toBe(EXIT.LOCKED);
    const repo = new BackupRepo(s3At(bucket, async () => undefined));
    expect(await repo.names()).toEqual([(a as PromiseFulfilledResult<{ name: string }>).value.name]);
    expect(bucket.leaseWrites.filter((r) => r.id === 'b:2')).toEqual([]);
    expect(await loadPushProgress(repo.store)).toBeUndefined();
    expect(await repo.store.get(LOCK_KEY)).toBeUndefined();
  });

  // Scenario: two `log archive` runs start at once: one archives every closed log file, the other is refused naming the first, and wal/ holds each file once.
  it('Scenario: two concurrent archivers: one archives, the other is refused', async () => {
    const h = backupHarness();
    const env = await h.open({ lgMax: 2048 });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 40; i++) await env.put(t, enc(`k${i}`), enc('v'.repeat(100)));
    env.abandon();
    const bucket = new FakeBucket(true);
    const order = racingOrder();
    const [a, b] = await Promise.allSettled([
      archiveClosedLogs(s3At(bucket, order.a), h.storage, '/env', { leaseId: 'a:1', now: () => 5000 }),
      archiveClosedLogs(s3At(bucket, order.b), h.storage, '/env', { leaseId: 'b:2', now: () => 5000 }).finally(order.bSettled),
    ]);
    expect(a.status).toBe('fulfilled');
    expect((b as PromiseRejectedResult).reason).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: lockedMessage('s3://race/repo', 'log archive', bucket.leaseWrites[0]!, WAL_LOCK_KEY) });
    const done = (a as PromiseFulfilledResult<string[]>).value;
    expect(done.length).toBeGreaterThan(1);
    expect((await archivedLogs(s3At(bucket, async () => undefined))).map((x) => x.name)).toEqual(done);
    expect(bucket.objects.has(`repo/${WAL_LOCK_KEY}`)).toBe(false);
  });

  // Scenario: an expired lease (its holder was killed) is seen by two tools at once; both try to take it over with If-Match on its ETag; exactly one does.
  it('Scenario: two tools taking over the same expired lease: exactly one does', async () => {
    const bucket = new FakeBucket(true);
    await Lease.acquire(s3At(bucket, async () => undefined), LOCK_KEY, { id: 'dead:9', op: 'push', now: () => 0, ttlMs: 1000 });
    const order = racingOrder();
    const got = await Promise.allSettled([
      Lease.acquire(s3At(bucket, order.a), LOCK_KEY, { id: 'a:1', op: 'delete', now: () => 5000 }),
      Lease.acquire(s3At(bucket, order.b), LOCK_KEY, { id: 'b:2', op: 'push', now: () => 5000 }),
    ]);
    expect(got.map((g) => g.status)).toEqual(['fulfilled', 'rejected']);
    expect((got[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: lockedMessage('s3://race/repo', 'delete', bucket.leaseWrites[1]!) });
    expect(bucket.leaseWrites.map((r) => r.id)).toEqual(['dead:9', 'a:1']);
  });

  // Scenario: a holder stalled past its lease's expiry finds at its next refresh that another tool took the lease over: it fails naming the new holder instead of writing over it, on S3 and on a local directory.
  it('Scenario: a refresh after a takeover fails with the new holder, and writes nothing', async () => {
    const h = backupHarness();
    const stores: Array<[string, () => RepoStore]> = [
      ['S3', (() => {
        const bucket = new FakeBucket(true);
        return () => s3At(bucket, async () => undefined);
      })()],
      ['local', () => new LocalStore(h.storage, '/leases')],
    ];
    for (const [, store] of stores) {
      let now = 0;
      const a = await Lease.acquire(store(), LOCK_KEY, { id: 'a:1', op: 'push', now: () => now, ttlMs: 60_000 });
      now = 61_000;
      await Lease.acquire(store(), LOCK_KEY, { id: 'b:2', op: 'delete', now: () => now, ttlMs: 60_000 });
      const err: unknown = await a.refresh().then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED' });
      expect((err as Error).message).toBe(`${store().where}/${LOCK_KEY}: the lease of push a:1 was taken over by delete b:2 until ${new Date(121_000).toISOString()} (it expired at ${new Date(60_000).toISOString()}); stopped`);
      expect(a.lost).toBe(true);
      const held = JSON.parse(dec((await store().get(LOCK_KEY))!)) as LeaseRecord;
      expect(held.id).toBe('b:2');
      // Releasing a lost lease leaves the new holder's alone.
      await a.release();
      expect(JSON.parse(dec((await store().get(LOCK_KEY))!)).id).toBe('b:2');
    }
  });

  // Scenario: a push whose lease another tool takes over mid-copy (the push stalled past its expiry) stops at its next part: TOKUSIM_REPO_LOCKED, no sentinel, and no progress file written over the new holder's repository.
  it('Scenario: a push that lost its lease mid-copy stops and writes no progress', async () => {
    const h = backupHarness();
    const env = await h.open();
    const t = await env.createDictionary('t');
    for (let i = 0; i < 3000; i += 100) {
      await env.writeBatch(Array.from({ length: 100 }, (_, j) => ({ dict: t, op: 'insert' as const, key: enc(`k${String(i + j).padStart(5, '0')}`), value: enc(`${i + j}`.repeat(60)) })));
    }
    const bucket = new FakeBucket(true);
    let parts = 0;
    const stall = async (cmd: unknown): Promise<void> => {
      if (!(cmd instanceof PutObjectCommand) || !(cmd.input.Key ?? '').includes('/p/')) return;
      if (++parts !== 3) return;
      // The push stalls for longer than its lease lives; meanwhile a delete takes the expired lease.
      await h.clock.advance(61_000);
      await Lease.acquire(s3At(bucket, async () => undefined), LOCK_KEY, { id: 'del:7', op: 'delete', now: () => Number(h.clock.nowMicros() / 1000n) });
    };
    const err: unknown = await env.backup(new BackupRepo(s3At(bucket, stall)), { leaseId: 'a:1', partBytes: 16 << 10, progressEveryParts: 100 }).then(() => undefined, (e: unknown) => e);
    await env.close();
    expect(err).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: expect.stringMatching(/^s3:\/\/race\/repo\/locks\/repo\.lease\.json: the lease of push a:1 was taken over by delete del:7 until /) });
    const repo = new BackupRepo(s3At(bucket, async () => undefined));
    expect(await repo.names()).toEqual([]);
    expect(await loadPushProgress(repo.store)).toBeUndefined();
    expect(JSON.parse(dec((await repo.store.get(LOCK_KEY))!)).id).toBe('del:7');
  });

  // Scenario: the answer to the lease's conditional PUT is lost (a reset after the server wrote it); the retry gets 412 because the object now exists, and the lease sees its own record there: taken, once, not refused.
  it('Scenario: a conditional PUT that landed but whose answer was lost counts as taken', async () => {
    const bucket = new FakeBucket(true);
    let dropped = 0;
    const retries: string[] = [];
    const loseFirstLeasePut = (cmd: unknown): void => {
      if (cmd instanceof PutObjectCommand && isLeaseCall(cmd) && dropped++ === 0) throw Object.assign(new Error('socket hang up (store double)'), { code: 'ECONNRESET' });
    };
    const store = new S3Store({ bucket: 'race', prefix: 'repo', client: bucket.client(async () => undefined, loseFirstLeasePut), retry: { sleep: async () => undefined }, onRetry: (r) => retries.push(`${r.op} ${r.key}: ${r.cause}`) });
    const lease = await Lease.acquire(store, LOCK_KEY, { id: 'a:1', op: 'push', now: () => 0 });
    expect(retries).toEqual([`PUT ${LOCK_KEY}: ECONNRESET: socket hang up (store double)`]);
    expect(bucket.leaseWrites.map((r) => r.id)).toEqual(['a:1']);
    await lease.release();
    expect(bucket.objects.size).toBe(0);
  });

  // Scenario: a server that refuses conditional headers as not implemented (501) gets one such call; the store then writes plainly and the lease's whole life works (taken, refused to another, refreshed, released).
  it('Scenario: a server without conditional writes (501): plain puts from then on', async () => {
    const bucket = new FakeBucket('not-implemented');
    const store = s3At(bucket, async () => undefined);
    let now = 0;
    const lease = await Lease.acquire(store, LOCK_KEY, { id: 'a:1', op: 'push', now: () => now, ttlMs: 30_000 });
    await expect(Lease.acquire(s3At(bucket, async () => undefined), LOCK_KEY, { id: 'b:2', op: 'push', now: () => now })).rejects.toMatchObject({ code: 'TOKUSIM_REPO_LOCKED' });
    now = 20_000;
    await lease.refresh();
    expect(bucket.leaseWrites.map((r) => [r.id, r.expireAtMs])).toEqual([['a:1', 30_000], ['a:1', 50_000]]);
    // One 501 (the first write; the refused tool never wrote), then no conditional header: the refresh was plain.
    expect(bucket.conditionalCalls).toBe(1);
    await lease.release();
    expect(bucket.objects.size).toBe(0);
  });

  // Scenario: on a local directory (SimStorage), two tools that both read "no lease" race to create it: the hard link lets exactly one in.
  it('Scenario: a local repository: two tools creating the lease at once, exactly one wins', async () => {
    const h = backupHarness();
    const gate = storesThatReadTogether(h.storage);
    const [storeA, storeB] = gate.stores;
    const got = await Promise.allSettled([
      Lease.acquire(storeA, LOCK_KEY, { id: 'a:1', op: 'push', now: () => 0 }),
      Lease.acquire(storeB, LOCK_KEY, { id: 'b:2', op: 'push', now: () => 0 }),
    ]);
    expect(gate.reads()).toBeGreaterThanOrEqual(2);
    expect(got.filter((g) => g.status === 'fulfilled').length).toBe(1);
    const held = JSON.parse(dec((await new LocalStore(h.storage, '/repo').get(LOCK_KEY))!)) as LeaseRecord;
    const loser = got.find((g) => g.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: lockedMessage('/repo', 'push', held) });
    // No temporary file of either is left where list() could see it.
    expect(await new LocalStore(h.storage, '/repo').list('locks')).toEqual(['repo.lease.json']);
  });
});

/** A view of storage whose link() runs `before(existing, newPath)` first (to hold one tool's claim back). */
function linkGated(storage: Storage, before: (existing: string, newPath: string) => Promise<void>): Storage {
  return new Proxy(storage, {
    get(target, prop) {
      if (prop === 'link') return async (a: string, b: string) => {
        await before(a, b);
        return target.link(a, b);
      };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('backup: taking over an expired lease in a local directory', () => {
  const ttl = { ttlMs: 1000 };
  const readLease = async (s: Storage): Promise<LeaseRecord> => JSON.parse(dec((await new LocalStore(s, '/repo').get(LOCK_KEY))!)) as LeaseRecord;

  // Scenario: both tools read the same expired lease before either writes; then both claim it: the claim's exclusive create lets exactly one replace it, the other is refused naming the winner.
  it('Scenario: both read the expired lease, then both take it over: exactly one does', async () => {
    const h = backupHarness();
    await Lease.acquire(new LocalStore(h.storage, '/repo'), LOCK_KEY, { id: 'dead:9', op: 'push', now: () => 0, ...ttl });
    const gate = storesThatReadTogether(h.storage);
    const [storeA, storeB] = gate.stores;
    const got = await Promise.allSettled([
      Lease.acquire(storeA, LOCK_KEY, { id: 'a:1', op: 'delete', now: () => 5000, ...ttl }),
      Lease.acquire(storeB, LOCK_KEY, { id: 'b:2', op: 'push', now: () => 5000, ...ttl }),
    ]);
    expect(got.filter((g) => g.status === 'fulfilled').length).toBe(1);
    const held = await readLease(h.storage);
    expect(['a:1', 'b:2']).toContain(held.id);
    const loser = got.find((g) => g.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: lockedMessage('/repo', held.op, held) });
    // No claim or temporary file of either is left, even to the raw directory listing.
    expect(await h.storage.list('/repo/locks')).toEqual(['repo.lease.json']);
  });

  // Scenario: the window a compare-then-rename leaves open: B has compared the expired lease, then A takes it over completely (claim, rename, cleanup) before B writes. B's claim then finds the lease moved on and B is refused; A's lease stays.
  it('Scenario: one takeover completes inside the other\'s window: the late one is refused, the first keeps the lease', async () => {
    const h = backupHarness();
    await Lease.acquire(new LocalStore(h.storage, '/repo'), LOCK_KEY, { id: 'dead:9', op: 'push', now: () => 0, ...ttl });
    const aDone = deferred();
    const claims: string[] = [];
    const bStorage = linkGated(h.storage, async (_from, to) => {
      claims.push(to);
      await aDone.promise;
    });
    const b = Lease.acquire(new LocalStore(bStorage, '/repo'), LOCK_KEY, { id: 'b:2', op: 'push', now: () => 5000, ...ttl });
    // B has read the expired lease and is at its claim; A now runs from start to end.
    await vi.waitFor(() => expect(claims.length).toBe(1));
    const a = await Lease.acquire(new LocalStore(h.storage, '/repo'), LOCK_KEY, { id: 'a:1', op: 'delete', now: () => 5000, ...ttl });
    aDone.resolve();
    const err: unknown = await b.then(() => undefined, (e: unknown) => e);
    const held = await readLease(h.storage);
    expect(held.id).toBe('a:1');
    expect(err).toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: lockedMessage('/repo', 'delete', held) });
    expect(await h.storage.list('/repo/locks')).toEqual(['repo.lease.json']);
    // A's lease is intact: it refreshes and releases as its own.
    await a.release();
    expect(await h.storage.list('/repo/locks')).toEqual([]);
  });

  // Property: a crash at any I/O of a takeover leaves the expired lease or the new one (never none, never a lease nobody can take): after the crash a third tool takes it over once it expires, and no claim is left in locks/.
  it('Scenario: a crash at every I/O of a takeover', async () => {
    const base = backupHarness();
    await Lease.acquire(new LocalStore(base.storage, '/repo'), LOCK_KEY, { id: 'dead:9', op: 'push', now: () => 0, ...ttl });
    const probe = base.storage.snapshot();
    const start = probe.ioOps();
    await Lease.acquire(new LocalStore(probe, '/repo'), LOCK_KEY, { id: 'a:1', op: 'delete', now: () => 5000, ...ttl });
    const end = probe.ioOps();
    const seen = new Set<string>();
    for (let at = start + 1; at <= end; at++) {
      const disk = base.storage.snapshot();
      disk.crashAtIo(disk.ioOps() + (at - start));
      const got: unknown = await Lease.acquire(new LocalStore(disk, '/repo'), LOCK_KEY, { id: 'a:1', op: 'delete', now: () => 5000, ...ttl }).then(() => undefined, (e: unknown) => e);
      expect(got, `crash at I/O ${at}`).toBeInstanceOf(MachineHalted);
      disk.crash({ seed: at });
      // What a tool sees now: the dead lease, or A's (a claim A made durable counts as written).
      const c = new LocalStore(disk, '/repo').conditional;
      const now = JSON.parse(dec((await c.getTagged(LOCK_KEY))!.bytes)) as LeaseRecord;
      expect(['dead:9', 'a:1'], `crash at I/O ${at}`).toContain(now.id);
      seen.add(now.id);
      if (now.id === 'a:1') await expect(Lease.acquire(new LocalStore(disk, '/repo'), LOCK_KEY, { id: 'c:3', op: 'push', now: () => 5500, ...ttl })).rejects.toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: lockedMessage('/repo', 'delete', now) });
      const c3 = await Lease.acquire(new LocalStore(disk, '/repo'), LOCK_KEY, { id: 'c:3', op: 'push', now: () => 9000, ...ttl });
      expect((await readLease(disk)).id).toBe('c:3');
      // No claim is left to be followed later; a temporary file the crash cut short may be (putAtomic's invisible garbage).
      expect((await disk.list('/repo/locks')).filter((n) => n.includes('.from-')), `crash at I/O ${at}`).toEqual([]);
      expect(await new LocalStore(disk, '/repo').list('locks')).toEqual(['repo.lease.json']);
      await c3.release();
    }
    expect([...seen].sort()).toEqual(['a:1', 'dead:9']);
  });
});

/** A view of storage whose fsyncDir() runs `before(dir)` first (to hold a tool between its claim and its re-check). */
function fsyncDirGated(storage: Storage, before: (dir: string) => Promise<void>): Storage {
  return new Proxy(storage, {
    get(target, prop) {
      if (prop === 'fsyncDir') return async (d: string) => {
        await before(d);
        return target.fsyncDir(d);
      };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('backup: releasing a lease that was taken over', () => {
  const ttl = { ttlMs: 1000 };
  const idOf = async (store: RepoStore): Promise<string | undefined> => {
    const b = await store.get(LOCK_KEY);
    return b === undefined ? undefined : (JSON.parse(dec(b)) as LeaseRecord).id;
  };

  // Scenario: A's lease expired (A stalled) and B took it over; A then finishes and releases: B's lease survives, A's release does not fail, and A is told (onWarning) naming B. On the S3 double the delete carries If-Match; on a local directory the claim of A's tag finds the lease moved on.
  it('Scenario: a holder releasing after its lease was taken over leaves the new holder\'s lease (S3, local)', async () => {
    const h = backupHarness();
    const bucket = new FakeBucket(true);
    const stores: Array<[string, () => RepoStore]> = [
      ['S3', () => s3At(bucket, async () => undefined)],
      ['local', () => new LocalStore(h.storage, '/leases')],
    ];
    for (const [kind, store] of stores) {
      const warnings: string[] = [];
      let now = 0;
      const a = await Lease.acquire(store(), LOCK_KEY, { id: 'a:1', op: 'push', now: () => now, onWarning: (w) => warnings.push(w), ...ttl });
      now = 2000;
      const b = await Lease.acquire(store(), LOCK_KEY, { id: 'b:2', op: 'delete', now: () => now, ...ttl });
      expect(await a.release(), kind).toBe(false);
      expect(await idOf(store()), kind).toBe('b:2');
      expect(warnings, kind).toEqual([`${store().where}/${LOCK_KEY}: the lease of push a:1 was taken over by delete b:2 until ${new Date(3000).toISOString()} after it expired at ${new Date(1000).toISOString()}; left it alone`]);
      // B's lease is whole: B refreshes it and releases it as its own.
      now = 2500;
      await b.refresh();
      expect(await b.release(), kind).toBe(true);
      expect(await idOf(store()), kind).toBeUndefined();
    }
    // A's refused DELETE and B's DELETE both carried If-Match.
    expect(bucket.conditionalDeletes).toBe(1);
    expect((await h.storage.list('/leases/locks'))).toEqual([]);
  });

  // Scenario: the interleaving a read-then-delete release loses: A reads its own (expired) lease, then B takes it over completely, then A's delete goes out. S3: A's If-Match no longer holds (412), B's lease stays. Local: A's claim of its tag lands after B's takeover removed B's own claim, and A's re-check finds the chain moved past A's tag: A withdraws.
  it('Scenario: release vs takeover, forced interleaving: the takeover wins, the release leaves it', async () => {
    // S3: hold A's DELETE until B has taken the lease over.
    const bucket = new FakeBucket(true);
    const bDone = deferred();
    const aStore = s3At(bucket, async (cmd) => {
      if (cmd instanceof DeleteObjectCommand) await bDone.promise;
    });
    const warnings: string[] = [];
    const a = await Lease.acquire(aStore, LOCK_KEY, { id: 'a:1', op: 'push', now: () => 0, onWarning: (w) => warnings.push(w), ...ttl });
    const releasing = a.release();
    await new Promise<void>((r) => setImmediate(r));
    await Lease.acquire(s3At(bucket, async () => undefined), LOCK_KEY, { id: 'b:2', op: 'delete', now: () => 5000, ...ttl });
    bDone.resolve();
    expect(await releasing).toBe(false);
    expect(await idOf(s3At(bucket, async () => undefined))).toBe('b:2');
    expect(warnings).toEqual([expect.stringContaining('was taken over by delete b:2')]);

    // Local, at A's claim: B takes over before A's claim is linked.
    for (const at of ['link', 'fsyncDir'] as const) {
      const h = backupHarness();
      const held = deferred();
      const reached = deferred();
      let armed = false;
      const gate = async (): Promise<void> => {
        if (!armed) return;
        armed = false;
        reached.resolve();
        await held.promise;
      };
      const claimed = async (): Promise<boolean> => armed && (await h.storage.list('/repo/locks')).some((n) => n.includes('.from-'));
      // 'link': before A's claim exists; 'fsyncDir': A's claim (a tombstone) is linked, and A is making it durable before its re-check.
      const aStorage = at === 'link' ? linkGated(h.storage, (_from, to) => (to.includes('.from-') ? gate() : Promise.resolve())) : fsyncDirGated(h.storage, async () => ((await claimed()) ? gate() : undefined));
      const lw: string[] = [];
      const la = await Lease.acquire(new LocalStore(aStorage, '/repo'), LOCK_KEY, { id: 'a:1', op: 'push', now: () => 0, onWarning: (w) => lw.push(w), ...ttl });
      armed = true;
      const rel = la.release();
      await reached.promise;
      if (at === 'fsyncDir') {
        // A's tombstone claim is in place: the lease reads as A's (it is being deleted), still expired to B.
        expect((await h.storage.list('/repo/locks')).filter((n) => n.includes('.from-')).length, at).toBe(1);
      }
      const lb = await Lease.acquire(new LocalStore(h.storage, '/repo'), LOCK_KEY, { id: 'b:2', op: 'delete', now: () => 5000, ...ttl });
      held.resolve();
      expect(await rel, at).toBe(false);
      expect(lw, at).toEqual([expect.stringContaining('was taken over by delete b:2')]);
      expect((JSON.parse(dec((await new LocalStore(h.storage, '/repo').get(LOCK_KEY))!)) as LeaseRecord).id, at).toBe('b:2');
      expect(await h.storage.list('/repo/locks'), at).toEqual(['repo.lease.json']);
      expect(await lb.release(), at).toBe(true);
      expect(await h.storage.list('/repo/locks'), at).toEqual([]);
    }
  });

  // Scenario: a `log archive` whose lease is taken over after its last refresh (it stalled past the expiry) has archived every file: it succeeds, reports the lost lease through onWarning (the CLI prints it on stderr), and the new holder's lease stays.
  it('Scenario: an archive that finished its work after a takeover succeeds with a warning', async () => {
    const h = backupHarness();
    const env = await h.open({ lgMax: 2048 });
    const t = await env.createDictionary('t');
    for (let i = 0; i < 40; i++) await env.put(t, enc(`k${i}`), enc('v'.repeat(100)));
    env.abandon();
    const bucket = new FakeBucket(true);
    let leaseGets = 0;
    const stallAtRelease = async (cmd: unknown): Promise<void> => {
      // Acquire reads the lease twice (read, read-back); the third read is the release's.
      if (!(cmd instanceof GetObjectCommand) || !((cmd as Cmd).input.Key ?? '').endsWith(WAL_LOCK_KEY) || ++leaseGets !== 3) return;
      await Lease.acquire(s3At(bucket, async () => undefined), WAL_LOCK_KEY, { id: 'b:2', op: 'log archive', now: () => 70_000 });
    };
    const warnings: string[] = [];
    const done = await archiveClosedLogs(s3At(bucket, stallAtRelease), h.storage, '/env', { leaseId: 'a:1', now: () => 5000, onWarning: (w) => warnings.push(w) });
    expect(done.length).toBeGreaterThan(1);
    expect((await archivedLogs(s3At(bucket, async () => undefined))).map((x) => x.name)).toEqual(done);
    expect(warnings).toEqual([`s3://race/repo/${WAL_LOCK_KEY}: the lease of log archive a:1 was taken over by log archive b:2 until ${new Date(130_000).toISOString()} after it expired at ${new Date(65_000).toISOString()}; left it alone`]);
    expect((JSON.parse(dec(bucket.objects.get(`repo/${WAL_LOCK_KEY}`)!.bytes)) as LeaseRecord).id).toBe('b:2');
  });

  // Property: a crash at any I/O of a local release leaves A's lease or none (never a lease nobody can take): a third tool is refused while A's lease lives and takes it once it expires (or at once when it is gone), and no claim is left behind.
  it('Scenario: a crash at every I/O of a local release', async () => {
    const base = backupHarness();
    await Lease.acquire(new LocalStore(base.storage, '/repo'), LOCK_KEY, { id: 'a:1', op: 'push', now: () => 0, ...ttl });
    const probe = base.storage.snapshot();
    const pl = await Lease.acquire(new LocalStore(probe, '/repo'), LOCK_KEY, { id: 'a:1', op: 'push', now: () => 0, ...ttl });
    const start = probe.ioOps();
    expect(await pl.release()).toBe(true);
    const steps = probe.ioOps() - start;
    expect(await probe.list('/repo/locks')).toEqual([]);
    const seen = new Set<string>();
    for (let k = 1; k <= steps; k++) {
      const disk = base.storage.snapshot();
      const a = await Lease.acquire(new LocalStore(disk, '/repo'), LOCK_KEY, { id: 'a:1', op: 'push', now: () => 0, ...ttl });
      disk.crashAtIo(disk.ioOps() + k);
      const got: unknown = await a.release().then(() => undefined, (e: unknown) => e);
      expect(got, `crash at release I/O ${k}`).toBeInstanceOf(MachineHalted);
      disk.crash({ seed: k });
      const c = new LocalStore(disk, '/repo').conditional;
      const now = await c.getTagged(LOCK_KEY);
      const state = now === undefined ? 'none' : (JSON.parse(dec(now.bytes)) as LeaseRecord).id;
      expect(['a:1', 'none'], `crash at release I/O ${k}`).toContain(state);
      seen.add(state);
      if (state === 'a:1') {
        await expect(Lease.acquire(new LocalStore(disk, '/repo'), LOCK_KEY, { id: 'c:3', op: 'delete', now: () => 500, ...ttl }), `crash at release I/O ${k}`).rejects.toMatchObject({ code: 'TOKUSIM_REPO_LOCKED', message: expect.stringContaining('is held by push a:1') });
      }
      const c3 = await Lease.acquire(new LocalStore(disk, '/repo'), LOCK_KEY, { id: 'c:3', op: 'delete', now: () => (state === 'a:1' ? 1500 : 500), ...ttl });
      expect(await idOf(new LocalStore(disk, '/repo')), `crash at release I/O ${k}`).toBe('c:3');
      expect((await disk.list('/repo/locks')).filter((n) => n.includes('.from-')), `crash at release I/O ${k}`).toEqual([]);
      expect(await c3.release(), `crash at release I/O ${k}`).toBe(true);
      expect(await new LocalStore(disk, '/repo').list('locks'), `crash at release I/O ${k}`).toEqual([]);
    }
    expect([...seen].sort()).toEqual(['a:1', 'none']);
  });
});
