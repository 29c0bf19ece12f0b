/**
 * A lease lock `{id, op, expireAt}` on a repository (or a fetch's DEST), TiDB BR style: the
 * holder writes it when it starts and refreshes it while it runs; anyone else is refused
 * while it is live, with a message naming the owner and the expiry; a holder that died
 * (killed push) leaves it to expire, after which the next one takes it over.
 *
 * Invariants:
 *  - acquire() succeeds only if no lease exists, the existing one has expired, or it is the
 *    caller's own id; it writes the lease with putAtomic before returning.
 *  - refresh() rewrites the lease once a third of its time has passed, so a live holder's
 *    lease never expires while it calls refresh() at least that often.
 *  - release() deletes the lease only if it is still the caller's.
 *  - Object stores offer no compare-and-swap here, so two holders that start within one
 *    round trip of each other can both write; acquire() reads the lease back and refuses if
 *    the other write won. Leases keep honest tools apart; they are not a consensus protocol.
 */
import { TokusimError } from '../base/errors.js';
import { encodeJson } from './manifest.js';
import type { RepoStore } from './store.js';

export interface LeaseRecord {
  id: string;
  /** What holds it: push, delete, fetch... */
  op: string;
  /** Expiry, ms since the epoch, and the same as ISO text for people. */
  expireAtMs: number;
  expireAt: string;
}

export interface LeaseOptions {
  /** Who is asking (default: host:pid). */
  id: string;
  op: string;
  /** How long a lease lives without a refresh (default 60 s). */
  ttlMs?: number;
  /** The clock (ms since the epoch). */
  now: () => number;
}

export const DEFAULT_LEASE_TTL_MS = 60_000;
const dec = new TextDecoder();

function parseLease(bytes: Uint8Array, where: string): LeaseRecord {
  try {
    const r = JSON.parse(dec.decode(bytes)) as LeaseRecord;
    if (typeof r.id === 'string' && typeof r.expireAtMs === 'number') return r;
  } catch {
    // reported below
  }
  throw new TokusimError('bad-header', 'lease lock is not a lease record', { file: where, expected: '{ id, op, expireAtMs, expireAt }' });
}

export class Lease {
  private lastWriteMs: number;

  private constructor(
    private readonly store: RepoStore,
    private readonly key: string,
    private readonly o: Required<LeaseOptions>,
  ) {
    this.lastWriteMs = o.now();
  }

  /** Take the lease at key, or refuse with TOKUSIM_REPO_LOCKED naming the live holder. */
  static async acquire(store: RepoStore, key: string, opts: LeaseOptions): Promise<Lease> {
    const o: Required<LeaseOptions> = { ttlMs: DEFAULT_LEASE_TTL_MS, ...opts };
    const where = `${store.where}/${key}`;
    const check = async (): Promise<void> => {
      const have = await store.get(key);
      if (have === undefined) return;
      const r = parseLease(have, where);
      if (r.id !== o.id && r.expireAtMs > o.now()) {
        throw new TokusimError('repo-locked', `${store.where} is held by ${r.op ?? 'another tool'} ${r.id} until ${new Date(r.expireAtMs).toISOString()} (its lease); wait for it to finish or expire`, { file: where, actual: r.id });
      }
    };
    await check();
    const lease = new Lease(store, key, o);
    await lease.write();
    const back = await store.get(key);
    if (back === undefined || parseLease(back, where).id !== o.id) await check();
    return lease;
  }

  private async write(): Promise<void> {
    const now = this.o.now();
    const exp = now + this.o.ttlMs;
    const rec: LeaseRecord = { id: this.o.id, op: this.o.op, expireAtMs: exp, expireAt: new Date(exp).toISOString() };
    await this.store.putAtomic(this.key, encodeJson(rec));
    this.lastWriteMs = now;
  }

  /** Extend the lease if a third of its time has passed since the last write. */
  async refresh(): Promise<void> {
    if (this.o.now() - this.lastWriteMs >= this.o.ttlMs / 3) await this.write();
  }

  async release(): Promise<void> {
    const have = await this.store.get(this.key);
    if (have === undefined) return;
    if (parseLease(have, `${this.store.where}/${this.key}`).id !== this.o.id) return;
    await this.store.delete(this.key);
    await this.store.sync();
  }
}

/** A lease id for this process. */
export function defaultLeaseId(): string {
  const host = typeof process !== 'undefined' ? (process.env['HOSTNAME'] ?? 'host') : 'host';
  const pid = typeof process !== 'undefined' ? process.pid : 0;
  return `${host}:${pid}`;
}
