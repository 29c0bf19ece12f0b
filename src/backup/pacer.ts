/**
 * A byte-rate limit (`--rate-limit`): push paces its part uploads with it, fetch its downloads
 * (PacedStore). Before each transfer it sleeps until the bytes transferred before took at least
 * their time at the rate, counted from the first transfer.
 *
 * Invariants:
 *  - After k transfers of n_1..n_k bytes, at least (n_1 + ... + n_(k-1)) / rate seconds have
 *    passed on `now` since the first began; with no other delays the waits add up to exactly that.
 *  - A rate of undefined or <= 0 never waits.
 */
import type { ConditionalWrites, RepoStore } from './store.js';

export interface PaceOptions {
  /** Bytes per second (undefined or <= 0: no limit). */
  rate: number | undefined;
  /** The clock in ms (default performance.now) and how to wait (default setTimeout). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class Pacer {
  private start: number | undefined;
  private bytes = 0;

  constructor(private readonly o: PaceOptions) {}

  /** Whether this pacer ever waits. */
  get limited(): boolean {
    return this.o.rate !== undefined && this.o.rate > 0;
  }

  /** Wait until the bytes counted so far took their time at the rate. */
  async wait(): Promise<void> {
    if (!this.limited) return;
    const now = (this.o.now ?? (() => performance.now()))();
    this.start ??= now;
    const due = this.start + (this.bytes / this.o.rate!) * 1000;
    if (due > now) await (this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))))(due - now);
  }

  /** Count n bytes transferred. */
  count(n: number): void {
    this.bytes += n;
  }

  /** wait(), then count n bytes: before a transfer whose size is known. */
  async before(n: number): Promise<void> {
    await this.wait();
    this.count(n);
  }
}

/** A store whose reads are paced (fetch --rate-limit); everything else goes straight through. */
export class PacedStore implements RepoStore {
  readonly conditional: ConditionalWrites | undefined;

  constructor(private readonly inner: RepoStore, private readonly pacer: Pacer) {
    this.conditional = inner.conditional;
  }

  get where(): string {
    return this.inner.where;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.pacer.wait();
    const bytes = await this.inner.get(key);
    this.pacer.count(bytes?.length ?? 0);
    return bytes;
  }

  put(key: string, data: Uint8Array): Promise<void> {
    return this.inner.put(key, data);
  }

  putAtomic(key: string, data: Uint8Array): Promise<void> {
    return this.inner.putAtomic(key, data);
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
