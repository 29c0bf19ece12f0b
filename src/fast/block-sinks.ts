/**
 * The fast block sinks: the same blocks as the plain sink (checkpoint/node-sink.ts), made
 * without holding up the thread that serves clients. Installed on a NodeStorage by
 * installFastPaths (install.ts); one sink per dictionary.
 *
 * A payload of at most NODE_SLICE_BYTES is framed on this thread in one step, as the plain
 * sink does. A larger one:
 *  - with frame workers (framedWrites): is checksummed and written off the main thread
 *    (frame-workers.ts). Parts on shared memory (CowBytes pages) are handed over where they
 *    are; a disposable payload that owns its buffer from offset 0 (a clone's private bytes)
 *    is handed over itself, its buffer detached; anything else is first copied into a private
 *    buffer from blockBuffers, since the buffer handed over is detached.
 *  - without them: is gathered (when in parts) and framed with an incremental x1764.
 * Where the storage yields, the copying and framing run in slices of NODE_SLICE_BYTES with a
 * yield between them (a slice takes about one turn's budget of cooperative work, see
 * node-storage.ts), one block at a time in order (see inLane).
 *
 * Invariants:
 *  - Every block written is frameBlock(concatenation of the parts, padTo512), byte for byte.
 *  - The parts are only read; a buffer is taken (detached) only from a disposable payload.
 *  - A buffer taken from blockBuffers for a copy goes back there once its last use is over
 *    (after framing here, or after the frame worker's write).
 */
import { invariant } from '../base/errors.js';
import { totalLength } from '../base/bytes.js';
import { frameBlock, frameHead, frameTail, framedLength } from '../format/block-frame.js';
import { X1764 } from '../format/x1764.js';
import { NODE_SLICE_BYTES } from '../checkpoint/checkpointable-dictionary.js';
import type { BlockPayload, BlockSink } from '../storage/storage.js';
import { blockBuffers } from './buffer-pool.js';
import { allShared, FramedPayload } from './frame-workers.js';

/**
 * frameBlock(payload, { padTo512: true }) as bounded steps: the payload is copied into the
 * padded frame and checksummed (incremental x1764) sliceBytes at a time, each `yield` ending
 * a slice. Returns the same bytes frameBlock returns.
 */
export function* frameBlockSteps(payload: Uint8Array, sliceBytes = NODE_SLICE_BYTES): Generator<void, Uint8Array, void> {
  invariant(Number.isInteger(sliceBytes) && sliceBytes >= 8, () => `slice of ${sliceBytes} bytes is too small`);
  const n = payload.length;
  const out = new Uint8Array(framedLength(n));
  out.set(frameHead(n), 0);
  const sum = new X1764();
  for (let off = 0; off < n; off += sliceBytes) {
    if (off > 0) yield;
    const end = Math.min(n, off + sliceBytes);
    out.set(payload.subarray(off, end), 4 + off);
    sum.add(payload, off, end);
  }
  out.set(frameTail(n, sum.finish(), out.length), 4 + n);
  return out;
}

/** The parts' bytes gathered into one buffer from blockBuffers, about sliceBytes per step. */
function* copySteps(parts: readonly Uint8Array[], total: number, sliceBytes = NODE_SLICE_BYTES): Generator<void, Uint8Array, void> {
  const out = blockBuffers.take(total);
  let at = 0;
  let sinceYield = 0;
  for (const part of parts) {
    for (let off = 0; off < part.length; ) {
      if (sinceYield >= sliceBytes) {
        yield;
        sinceYield = 0;
      }
      const n = Math.min(part.length - off, sliceBytes - sinceYield);
      out.set(n === part.length ? part : part.subarray(off, off + n), at);
      at += n;
      off += n;
      sinceYield += n;
    }
  }
  invariant(at === total, () => `gathered ${at} bytes of ${total}`);
  return out;
}

/** True when bytes start at offset 0 of a non-shared ArrayBuffer (a disposable payload's buffer may then be taken). */
function ownsBufferFromStart(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && !(bytes.buffer instanceof SharedArrayBuffer);
}

/** Run steps to their end with no yield between them. */
function runAll<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** Run steps to their end, awaiting yieldNow between them. */
async function runSteps<T>(steps: Generator<void, T, void>, yieldNow: () => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await yieldNow();
  }
}

/** What the fast sinks may use on their storage. */
export interface FastSinkOptions {
  /** The storage's yield hook (null: slices run back to back). */
  yieldNow: (() => Promise<void>) | null;
  /** The storage's pwrite takes FramedPayloads (frame workers are installed). */
  framedWrites: boolean;
}

class FastBlockSink implements BlockSink {
  /** The end of the queue of sliced pre-write work (see inLane). */
  private laneTail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: FastSinkOptions) {}

  async writeBlock(payload: BlockPayload, write: (block: Uint8Array) => Promise<void>): Promise<void> {
    const { parts } = payload;
    const yieldNow = this.opts.yieldNow;
    const total = totalLength(parts);
    const big = total > NODE_SLICE_BYTES;
    // The payload in one private buffer from blockBuffers (in slices where the storage yields).
    const contiguous = (): Promise<Uint8Array> | Uint8Array => (yieldNow !== null && big ? this.inLane(copySteps(parts, total), yieldNow) : runAll(copySteps(parts, total)));
    if (big && this.opts.framedWrites) {
      if (allShared(parts)) {
        // Parts on shared memory (CowBytes pages): the frame worker checksums and writes
        // them where they are; this thread copies nothing.
        await write(FramedPayload.ofSharedParts(parts, payload.owner));
        return;
      }
      // The frame worker takes the payload's buffer away: the payload's own when it is
      // disposable, otherwise a private copy.
      const own = payload.disposable && ownsBufferFromStart(parts[0]!) ? parts[0]! : await contiguous();
      await write(new FramedPayload(own));
      return;
    }
    const copied = parts.length !== 1;
    const bytes = copied ? await contiguous() : parts[0]!;
    // The frame is padded here, so the dictionary writes it without another copy.
    const framed = yieldNow !== null && big ? await this.inLane(frameBlockSteps(bytes), yieldNow) : frameBlock(bytes, { padTo512: true });
    if (copied) blockBuffers.give(bytes.buffer as ArrayBuffer);
    await write(framed);
  }

  /**
   * Run the sliced work that prepares a block for its write (gathering, copying or framing
   * the payload) after the work queued before it has finished: one at a time, in order. With
   * several writes in the window, running their slices round robin would finish them all at
   * about the same time and leave the disk idle meanwhile; in order, each write starts as soon
   * as its own bytes are ready.
   */
  private inLane<T>(steps: Generator<void, T, void>, yieldNow: () => Promise<void>): Promise<T> {
    const run = this.laneTail.then(() => runSteps(steps, yieldNow));
    this.laneTail = run.catch(() => undefined);
    return run;
  }
}

/** A maker of fast sinks (one per dictionary) for a storage with these capabilities. */
export function fastBlockSinks(opts: FastSinkOptions): () => BlockSink {
  return () => new FastBlockSink(opts);
}
