/**
 * A readers-writer latch for async callers, granted strictly in arrival order (so a writer is
 * never starved by a stream of readers and a reader never waits for a writer that arrived
 * after it).
 *
 * Invariants:
 *  - at any moment either no holder, one writer, or any number of readers;
 *  - waiters are granted in FIFO order; a batch of consecutive readers is granted together;
 *  - the latch is released even when the guarded function throws.
 */
import { invariant } from '../../base/errors.js';

interface Waiter {
  readonly write: boolean;
  readonly grant: () => void;
}

/** An asynchronous readers-writer latch. */
export class AsyncRwLatch {
  private readers = 0;
  private writer = false;
  private readonly queue: Waiter[] = [];

  /** Run fn holding the latch shared. */
  async read<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.release(false);
    }
  }

  /** Run fn holding the latch exclusively. */
  async write<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.release(true);
    }
  }

  /** True when no one holds or waits for the latch. */
  get idle(): boolean {
    return this.readers === 0 && !this.writer && this.queue.length === 0;
  }

  private acquire(write: boolean): Promise<void> {
    if (this.queue.length === 0 && !this.writer && (!write || this.readers === 0)) {
      this.take(write);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ write, grant: resolve }));
  }

  private take(write: boolean): void {
    if (write) {
      invariant(!this.writer && this.readers === 0, 'writer granted while the latch is held');
      this.writer = true;
    } else {
      invariant(!this.writer, 'reader granted while a writer holds the latch');
      this.readers++;
    }
  }

  private release(write: boolean): void {
    if (write) {
      invariant(this.writer, 'write release without a writer');
      this.writer = false;
    } else {
      invariant(this.readers > 0, 'read release without a reader');
      this.readers--;
    }
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (this.writer || (next.write && this.readers > 0)) break;
      this.queue.shift();
      this.take(next.write);
      next.grant();
      if (next.write) break;
    }
  }
}
