/**
 * A lease lock `{id, op, expireAt}` on a repository (or a fetch's DEST), TiDB BR style: the
 * holder writes it when it starts and refreshes it while it runs; anyone else is refused
 * while it is live, with a message naming the owner and the expiry; a holder that died
 * (killed push) leaves it to expire, after which the next one takes it over.
 *
 * Invariants:
 *  - acquire() succeeds only if no lease exists, the existing one has expired, or it is the
 *    caller's own id; it writes the lease durably before returning.
 *  - Where the store has conditional writes (RepoStore.conditional), the lease is written only
 *    if the object is still what acquire() read: absent (`If-None-Match: *`), or the expired
 *    lease with the tag read (`If-Match`). Of two tools that read the same state, exactly one
 *    write lands; the other re-reads and is refused naming the winner. That holds on S3 (the
 *    server checks) and on a local directory (an exclusive link, then a claim only one
 *    writer can create: see store.ts). A store that ignores the conditions (s3rver) falls
 *    back to the read-back below.
 *  - After writing, acquire() reads the lease back and refuses if another write won.
 *  - refresh() rewrites the lease once a third of its time has passed, so a live holder's
 *    lease never expires while it calls refresh() at least that often. The rewrite is
 *    conditional on the tag of its own last write (or, without conditional writes, checked by
 *    reading first): a holder whose lease was taken over (it expired, e.g. a stalled machine)
 *    fails with 'repo-locked' naming the new holder instead of writing over it; `lost` is set.
 *  - release() deletes the lease only if it is still exactly the one this holder last wrote:
 *    with conditional writes, a delete conditional on that write's tag (S3: DeleteObject with
 *    `If-Match`; a local directory: a claim as for a takeover, see store.ts); without them, by
 *    comparing the bytes read first. A lease that is no longer this holder's (it expired and
 *    was taken over) is left alone: release() does not fail, it reports it through onWarning.
 *  - Leases keep honest tools apart; they are not a consensus protocol (a holder stalled past
 *    its expiry may still do some work before its next refresh finds the lease lost).
 */
import { TokusimError } from '../base/errors.js';
import { encodeJson } from './manifest.js';
import type { PutCondition, RepoStore } from './store.js';

export interface LeaseRecord {
  id: string;
  /** What holds it: push, delete, fetch... */
  op: string;
  /** Expiry, ms since the epoch, and the same as ISO text for people. */
  expireAtMs: number;
  expireAt: string;
  /**
   * Which write of this process it is: no two writes have the same bytes, even of one id at one
   * millisecond (a local directory names a delete's claim after the bytes deleted, so a lease
   * rewritten byte for byte over its own unfinished release would make the claims loop).
   */
  write?: number;
}

export interface LeaseOptions {
  /** Who is asking (default: host:pid). */
  id: string;
  op: string;
  /** How long a lease lives without a refresh (default 60 s). */
  ttlMs?: number;
  /** The clock (ms since the epoch). */
  now: () => number;
  /** Told when release() left a lease alone because it is no longer this holder's. */
  onWarning?: (message: string) => void;
}

export const DEFAULT_LEASE_TTL_MS = 60_000;
const dec = new TextDecoder();
/** Writes of leases by this process (LeaseRecord.write). */
let leaseWrites = 0;

function parseLease(bytes: Uint8Array, where: string): LeaseRecord {
  try {
    const r = JSON.parse(dec.decode(bytes)) as LeaseRecord;
    if (typeof r.id === 'string' && typeof r.expireAtMs === 'number') return r;
  } catch {
    // reported below
  }
  throw new TokusimError('bad-header', 'lease lock is not a lease record', { file: where, expected: '{ id, op, expireAtMs, expireAt }' });
}

function lockedError(store: RepoStore, where: string, r: LeaseRecord): TokusimError {
  return new TokusimError('repo-locked', `${store.where} is held by ${r.op ?? 'another tool'} ${r.id} until ${new Date(r.expireAtMs).toISOString()} (its lease); wait for it to finish or expire`, { file: where, actual: r.id });
}

/** Rounds of read, conditional write and re-read before acquire() gives up on a busy lease object. */
const ACQUIRE_ROUNDS = 4;

export class Lease {
  private lastWriteMs: number;
  /** The tag of this holder's last write (stores with conditional writes). */
  private tag: string | undefined;
  /** The record of this holder's last write, and its bytes. */
  private written: LeaseRecord | undefined;
  private writtenBytes: Uint8Array | undefined;
  /** Set when refresh() found the lease taken over by another holder. */
  lost = false;

  private constructor(
    private readonly store: RepoStore,
    private readonly key: string,
    private readonly o: Required<Omit<LeaseOptions, 'onWarning'>> & Pick<LeaseOptions, 'onWarning'>,
  ) {
    this.lastWriteMs = o.now();
  }

  private get where(): string {
    return `${this.store.where}/${this.key}`;
  }

  /** Take the lease at key, or refuse with TOKUSIM_REPO_LOCKED naming the live holder. */
  static async acquire(store: RepoStore, key: string, opts: LeaseOptions): Promise<Lease> {
    const o = { ttlMs: DEFAULT_LEASE_TTL_MS, ...opts };
    const lease = new Lease(store, key, o);
    const where = lease.where;
    const refuseLive = (r: LeaseRecord): void => {
      if (r.id !== o.id && r.expireAtMs > o.now()) throw lockedError(store, where, r);
    };
    const c = store.conditional;
    if (c === undefined) {
      const have = await store.get(key);
      if (have !== undefined) refuseLive(parseLease(have, where));
      await lease.write();
    } else {
      for (let round = 1; ; round++) {
        const have = await c.getTagged(key);
        if (have !== undefined) refuseLive(parseLease(have.bytes, where));
        if (await lease.writeIf(have === undefined ? { ifAbsent: true } : { ifTag: have.tag })) break;
        if (round >= ACQUIRE_ROUNDS) {
          const now = await c.getTagged(key);
          if (now !== undefined) refuseLive(parseLease(now.bytes, where));
          throw new TokusimError('repo-locked', `${store.where}: the lease changed under every one of ${ACQUIRE_ROUNDS} tries to take it; try again`, { file: where });
        }
      }
    }
    // A store that ignores conditions (or has none) may have let another write land after ours.
    const back = await store.get(key);
    if (back === undefined) throw new TokusimError('repo-locked', `${store.where}: the lease just written is gone (another tool released or took it); try again`, { file: where });
    const r = parseLease(back, where);
    if (r.id !== o.id) {
      refuseLive(r);
      throw new TokusimError('repo-locked', `${store.where}: another tool (${r.id}) wrote the lease at the same time; try again`, { file: where, actual: r.id });
    }
    return lease;
  }

  private record(): LeaseRecord {
    const now = this.o.now();
    const exp = now + this.o.ttlMs;
    return { id: this.o.id, op: this.o.op, expireAtMs: exp, expireAt: new Date(exp).toISOString(), write: ++leaseWrites };
  }

  private async write(): Promise<void> {
    const rec = this.record();
    const bytes = encodeJson(rec);
    await this.store.putAtomic(this.key, bytes);
    this.written = rec;
    this.writtenBytes = bytes;
    this.lastWriteMs = this.o.now();
  }

  /**
   * Write the lease only if the condition holds; true when it landed. A failed condition whose
   * object is exactly the record just sent is a write that landed but whose answer was lost
   * (a retried PUT): it counts as landed.
   */
  private async writeIf(cond: PutCondition): Promise<boolean> {
    const c = this.store.conditional!;
    const rec = this.record();
    const bytes = encodeJson(rec);
    let tag = await c.putIf(this.key, bytes, cond);
    if (tag === undefined) {
      const now = await c.getTagged(this.key);
      if (now === undefined || !sameBytes(now.bytes, bytes)) return false;
      tag = now.tag;
    }
    this.tag = tag;
    this.written = rec;
    this.writtenBytes = bytes;
    this.lastWriteMs = this.o.now();
    return true;
  }

  /** Fail with 'repo-locked' if the lease is no longer this holder's (it expired and was taken over). */
  private async takenOver(): Promise<never> {
    this.lost = true;
    const have = await this.store.get(this.key);
    const other = have === undefined ? undefined : parseLease(have, this.where);
    const by = other === undefined ? 'removed by another tool' : `taken over by ${other.op ?? 'another tool'} ${other.id} until ${new Date(other.expireAtMs).toISOString()}`;
    const mine = this.written === undefined ? '' : ` (it expired at ${this.written.expireAt})`;
    throw new TokusimError('repo-locked', `the lease of ${this.o.op} ${this.o.id} was ${by}${mine}; stopped`, { file: this.where, ...(other !== undefined ? { actual: other.id } : {}) });
  }

  /** Extend the lease if a third of its time has passed since the last write. */
  async refresh(): Promise<void> {
    if (this.o.now() - this.lastWriteMs < this.o.ttlMs / 3) return;
    const c = this.store.conditional;
    if (c !== undefined && this.tag !== undefined) {
      if (!(await this.writeIf({ ifTag: this.tag }))) await this.takenOver();
      return;
    }
    const have = await this.store.get(this.key);
    if (have === undefined || parseLease(have, this.where).id !== this.o.id) await this.takenOver();
    await this.write();
  }

  /**
   * Delete the lease if it is still exactly the one this holder last wrote; true when it is gone.
   * Otherwise (another tool took it over after it expired) leave it, tell onWarning, and return false.
   */
  async release(): Promise<boolean> {
    const c = this.store.conditional;
    let gone: boolean;
    if (c !== undefined && this.tag !== undefined) {
      gone = await c.deleteIf(this.key, this.tag);
    } else {
      const have = await this.store.get(this.key);
      gone = have === undefined;
      if (have !== undefined && this.writtenBytes !== undefined && sameBytes(have, this.writtenBytes)) {
        await this.store.delete(this.key);
        gone = true;
      }
    }
    await this.store.sync();
    if (!gone) {
      const have = await this.store.get(this.key);
      const other = have === undefined ? undefined : parseLease(have, this.where);
      const by = other === undefined ? 'changed by another tool' : other.id === this.o.id ? `rewritten by another run with the same id ${other.id}` : `taken over by ${other.op ?? 'another tool'} ${other.id} until ${new Date(other.expireAtMs).toISOString()}`;
      const mine = this.written === undefined ? '' : ` after it expired at ${this.written.expireAt}`;
      this.o.onWarning?.(`${this.where}: the lease of ${this.o.op} ${this.o.id} was ${by}${mine}; left it alone`);
    }
    return gone;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A lease id for this process. */
export function defaultLeaseId(): string {
  const host = typeof process !== 'undefined' ? (process.env['HOSTNAME'] ?? 'host') : 'host';
  const pid = typeof process !== 'undefined' ? process.pid : 0;
  return `${host}:${pid}`;
}
