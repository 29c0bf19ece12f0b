/**
 * A pool of ArrayBuffers for node blocks on their way to disk. A checkpoint that clones or
 * copies every PAIR would otherwise allocate (and the OS zero and fault in) a fresh buffer of
 * node size per PAIR, which on 256 KiB nodes costs as much as the copy itself and keeps the
 * garbage collector busy. Buffers that went to a frame worker come back here after their
 * write (frame-workers.ts) and are handed out again.
 *
 * Invariants:
 *  - take(len) returns a view of length len at offset 0 of a buffer nobody else holds: either
 *    fresh, or one given back (whose old contents the caller overwrites; they are not zeroed).
 *  - Buffers are kept by capacity class (len rounded up to 4 KiB) and the pool never holds
 *    more than maxBytes; beyond that a given-back buffer is dropped for the GC.
 *  - A buffer is given back only by the code that took it, once its last use is over.
 */
import { invariant } from '../base/errors.js';

const CLASS_BYTES = 4096;

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private held = 0;
  /** Buffers handed out that came from the pool (for tests and benchmarks). */
  reused = 0;

  constructor(readonly maxBytes: number) {
    invariant(Number.isInteger(maxBytes) && maxBytes >= 0, () => `buffer pool of ${maxBytes} bytes`);
  }

  /** Bytes currently held by the pool. */
  get bytesHeld(): number {
    return this.held;
  }

  /** A private Uint8Array of length len at offset 0 of its buffer (contents unspecified). */
  take(len: number): Uint8Array {
    invariant(Number.isInteger(len) && len >= 0, () => `take of ${len} bytes`);
    const cap = Math.max(CLASS_BYTES, Math.ceil(len / CLASS_BYTES) * CLASS_BYTES);
    const list = this.free.get(cap);
    const buf = list?.pop();
    if (buf !== undefined) {
      this.held -= cap;
      this.reused++;
      return new Uint8Array(buf, 0, len);
    }
    return new Uint8Array(new ArrayBuffer(cap), 0, len);
  }

  /** Give back a buffer (one from take) whose last use is over. */
  give(buf: ArrayBuffer): void {
    const cap = buf.byteLength;
    if (cap === 0 || cap % CLASS_BYTES !== 0 || this.held + cap > this.maxBytes) return;
    let list = this.free.get(cap);
    if (list === undefined) this.free.set(cap, (list = []));
    list.push(buf);
    this.held += cap;
  }

  /** Drop every pooled buffer. */
  clear(): void {
    this.free.clear();
    this.held = 0;
  }
}

/** The process-wide pool for node blocks (64 MiB at most). */
export const blockBuffers = new BufferPool(64 * 1024 * 1024);
