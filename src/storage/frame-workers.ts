/**
 * Framed block writes off the main thread (NodeStorage only). A node block on disk is
 * [LE32 payload length][payload][LE32 x1764(payload)][zero padding to its padded length].
 * Checksumming a large payload is the checkpoint's biggest piece of CPU work; here it runs on
 * a small pool of worker threads, which also write the frame with one gathering pwritev
 * (header, payload, trailer+padding) on the file's descriptor, so the payload is neither
 * copied into a frame nor checksummed on the thread that serves clients. The payload's
 * ArrayBuffer is transferred to the worker (zero-copy) and back after the write, into
 * blockBuffers (buffer-pool.ts) for reuse.
 *
 * Three modes, selectable for measurement (FrameWriteMode): the worker checksums and writes
 * (asynchronously or synchronously), or it only checksums and hands the buffer back for the
 * main thread to write.
 *
 * Invariants:
 *  - A FramedPayload is written only by a file that accepts it (acceptsFramedPayload); its own
 *    bytes are a poison pattern (length field 0xffffffff), so a storage that wrote it as plain
 *    bytes would leave a block that fails to unframe ('bad-length'), never a wrong value.
 *  - The bytes a framed write leaves on disk are exactly frameBlock(payload, padTo512).
 *  - Every failure of a framed write (OS error, worker crash) rejects its promise with a
 *    TokusimError of kind 'io' naming the path; no request is ever left unanswered.
 *  - A worker is ref'd exactly while it has requests in flight, so an idle pool never keeps
 *    the process alive and a busy one never lets it exit under a pending write.
 *  - close() terminates every worker; a later request starts a fresh pool.
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { invariant } from '../format/errors.js';
import { totalLength } from '../format/bytes.js';
import { x1764ScriptSource } from '../format/x1764.js';
import { blockBuffers } from './buffer-pool.js';
import { ioError } from './io-error.js';

/** A poison buffer shared by every FramedPayload view; only ever read (never written). */
let poison = new ArrayBuffer(0);

function poisonOf(length: number): ArrayBuffer {
  if (poison.byteLength < length) {
    poison = new ArrayBuffer(Math.max(length, poison.byteLength * 2, 1 << 16));
    new Uint8Array(poison).fill(0xff);
  }
  return poison;
}

/**
 * A block to be written as a frame, standing in (with the frame's padded length) where a
 * plain Uint8Array of the framed bytes would go, so it can pass through DictionaryFile's
 * writeBlock unchanged. `payload` must be the whole of an ArrayBuffer nobody else uses: it is
 * transferred (detached) when the write starts.
 */
export class FramedPayload extends Uint8Array {
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }

  /** The payload in one owned buffer (transferred to the worker), or null for shared parts. */
  readonly payload: Uint8Array | null;
  /** The payload as views on SharedArrayBuffers, in order (read by the worker in place), or null. */
  readonly sharedParts: readonly Uint8Array[] | null;
  readonly payloadLength: number;

  /**
   * Frame `payload`, padded to a multiple of 512 (the same length frameBlock gives). The
   * payload starts at offset 0 of an ArrayBuffer that nobody else uses (it may be longer than
   * the payload, as blockBuffers' are); after the write the buffer goes to blockBuffers.
   */
  constructor(payload: Uint8Array);
  /** (internal) The shared-parts form: use FramedPayload.ofSharedParts. */
  constructor(payload: null, sharedParts: readonly Uint8Array[], length: number);
  constructor(payload: Uint8Array | null, sharedParts: readonly Uint8Array[] | null = null, length = payload?.length ?? 0) {
    if (payload !== null) {
      invariant(payload.byteOffset === 0 && !(payload.buffer instanceof SharedArrayBuffer), 'a framed payload owns its ArrayBuffer from offset 0');
    } else {
      invariant(sharedParts !== null && sharedParts.every((p) => p.buffer instanceof SharedArrayBuffer), 'shared parts are views on SharedArrayBuffers');
    }
    const padded = Math.ceil((length + 8) / 512) * 512;
    super(poisonOf(padded), 0, padded);
    this.payload = payload;
    this.sharedParts = sharedParts;
    this.payloadLength = length;
  }

  /**
   * Frame the concatenation of `parts`, every one a view on a SharedArrayBuffer: the frame
   * worker gathers, checksums and writes them where they are, so the thread that made them
   * copies nothing. The parts must not change until the write has finished.
   */
  static ofSharedParts(parts: readonly Uint8Array[]): FramedPayload {
    return new FramedPayload(null, parts, totalLength(parts));
  }
}

/** True when every part is a view on a SharedArrayBuffer (so FramedPayload.ofSharedParts takes them). */
export function allShared(parts: readonly Uint8Array[]): boolean {
  for (const p of parts) if (!(p.buffer instanceof SharedArrayBuffer)) return false;
  return parts.length > 0;
}

/** The capability of a StorageFile whose pwrite accepts a FramedPayload. */
export const FRAMED_WRITES: unique symbol = Symbol('tokusim.framedWrites');

/** True when `file.pwrite` writes a FramedPayload as its frame (off the main thread). */
export function acceptsFramedPayload(file: object): boolean {
  return (file as { [FRAMED_WRITES]?: unknown })[FRAMED_WRITES] === true;
}

/**
 * 'worker': the worker checksums and issues the pwritev asynchronously (it checksums the next
 * block while the write runs on an I/O thread); 'worker-sync': the worker writes synchronously;
 * 'libuv': the worker only checksums, the main thread issues the pwritev.
 */
export type FrameWriteMode = 'worker' | 'worker-sync' | 'libuv';

interface Request {
  id: number;
  fd: number;
  /** The owned payload buffer (transferred), or null when the payload is `shared`. */
  buf: ArrayBuffer | null;
  /** The payload as parts of SharedArrayBuffers: part i is bytes [offs[i], offs[i] + lens[i]) of bufs[which[i]]. */
  shared?: { bufs: SharedArrayBuffer[]; which: number[]; offs: number[]; lens: number[] };
  len: number;
  position: number;
  padded: number;
  write: 'sync' | 'async' | 'none';
}

type Reply = { id: number; crc: number; buf?: ArrayBuffer } | { id: number; error: { code: string; message: string } };

/**
 * The worker's whole program. It runs from source text (toString) with x1764 defined beside
 * it, so the same code serves the compiled build and the test runner, which has no .js file
 * to point a Worker at. It must not use anything from this module's scope.
 */
/** What is left of parts after n more bytes were written (a short write is rare, but possible). */
function remainingParts(parts: Uint8Array[], n: number): Uint8Array[] {
  const left: Uint8Array[] = [];
  for (const p of parts) {
    if (n >= p.length) n -= p.length;
    else {
      left.push(p.subarray(n));
      n = 0;
    }
  }
  return left;
}

function workerMain(
  checksum: (buf: Uint8Array) => number,
  checksumParts: (parts: Uint8Array[]) => number,
  req: (id: string) => unknown,
  rest: (parts: Uint8Array[], n: number) => Uint8Array[],
): void {
  const { parentPort, workerData } = req('node:worker_threads') as typeof import('node:worker_threads');
  const fsw = req('node:fs') as typeof import('node:fs');
  // Background priority: on Linux a thread's nice value is set through its own thread id,
  // read from /proc/thread-self. Best effort: elsewhere (or if refused) the worker runs at
  // the process's priority.
  const nice = (workerData as { nice?: number } | undefined)?.nice ?? 0;
  if (nice !== 0) {
    try {
      const osw = req('node:os') as typeof import('node:os');
      const tid = Number(fsw.readlinkSync('/proc/thread-self').split('/').pop());
      if (Number.isInteger(tid) && tid > 0) osw.setPriority(tid, nice);
    } catch {
      // not Linux, or not permitted: keep the default priority
    }
  }
  const fail = (id: number, err: unknown): void => {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' && e.code.length > 0 ? e.code : 'EIO';
    parentPort!.postMessage({ id, error: { code, message: String(e.message ?? err) } });
  };
  parentPort!.on('message', (m: Request) => {
    try {
      let payload: Uint8Array[];
      let crc: number;
      if (m.shared !== undefined) {
        // Shared parts are checksummed and written where they are (no gathering copy).
        const sh = m.shared;
        payload = sh.lens.map((n, i) => new Uint8Array(sh.bufs[sh.which[i]!]!, sh.offs[i]!, n));
        let total = 0;
        for (const p of payload) total += p.length;
        if (total !== m.len) throw Object.assign(new Error(`shared parts hold ${total} bytes, not ${m.len}`), { code: 'EINVAL' });
        crc = checksumParts(payload);
      } else {
        payload = [new Uint8Array(m.buf!, 0, m.len)];
        crc = checksum(payload[0]!);
      }
      // The reply: an owned buffer goes back to the main thread for reuse.
      const done = (): void => {
        if (m.buf === null) parentPort!.postMessage({ id: m.id, crc });
        else parentPort!.postMessage({ id: m.id, crc, buf: m.buf }, [m.buf]);
      };
      if (m.write === 'none') {
        done();
        return;
      }
      const head = new Uint8Array(4);
      new DataView(head.buffer).setUint32(0, m.len, true);
      const tail = new Uint8Array(m.padded - m.len - 4);
      new DataView(tail.buffer).setUint32(0, crc, true);
      const parts: Uint8Array[] = [head, ...payload, tail];
      if (m.write === 'sync') {
        let left = parts;
        let position = m.position;
        while (left.length > 0) {
          const n = fsw.writevSync(m.fd, left, position);
          if (n <= 0) throw Object.assign(new Error('writev made no progress'), { code: 'EIO' });
          position += n;
          left = rest(left, n);
        }
        done();
        return;
      }
      // 'async': the write runs on an I/O thread while this worker checksums the next block.
      const step = (left: Uint8Array[], position: number): void => {
        if (left.length === 0) {
          done();
          return;
        }
        fsw.writev(m.fd, left, position, (err, n) => {
          if (err !== null) fail(m.id, err);
          else if (n <= 0) fail(m.id, Object.assign(new Error('writev made no progress'), { code: 'EIO' }));
          else step(rest(left, n), position + n);
        });
      };
      step(parts, m.position);
    } catch (err) {
      fail(m.id, err);
    }
  });
}

const WORKER_SOURCE = `${x1764ScriptSource()}\n(${workerMain.toString()})(x1764, x1764Parts, require, ${remainingParts.toString()});\n`;

interface Pending {
  resolve(r: { crc: number; buf?: ArrayBuffer }): void;
  reject(err: Error): void;
  path: string;
}

class FrameWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead = false;

  constructor(
    private readonly onDeath: (w: FrameWorker) => void,
    nice: number,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { nice } });
    this.worker.unref();
    this.worker.on('message', (r: Reply) => this.settle(r));
    this.worker.on('error', (err) => this.die(err instanceof Error ? err.message : String(err)));
    this.worker.on('exit', (code) => this.die(`frame worker exited with code ${code}`));
  }

  send(req: Request, path: string): Promise<{ crc: number; buf?: ArrayBuffer }> {
    invariant(!this.dead, 'a request goes to a live frame worker');
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(req.id, { resolve, reject, path });
      this.worker.postMessage(req, req.buf !== null ? [req.buf] : []);
    });
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    invariant(p !== undefined, () => `frame worker answered unknown request ${r.id}`);
    this.pending.delete(r.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in r) p.reject(ioError('pwrite', p.path, r.error.code, r.error.message));
    else p.resolve(r);
  }

  private die(why: string): void {
    if (this.dead) return;
    this.dead = true;
    for (const p of this.pending.values()) p.reject(ioError('pwrite', p.path, 'EIO', why));
    this.pending.clear();
    this.worker.unref();
    this.onDeath(this);
  }

  async terminate(): Promise<void> {
    this.die('frame worker pool closed');
    await this.worker.terminate();
  }
}

/** The frame workers' default nice value (background work; see FrameWorkerPool). */
export const DEFAULT_FRAME_WORKER_NICE = 10;

const WRITE_BY_MODE: Record<FrameWriteMode, Request['write']> = { worker: 'async', 'worker-sync': 'sync', libuv: 'none' };

/** A pool of frame workers, started on first use. */
export class FrameWorkerPool {
  private workers: FrameWorker[] = [];
  private nextId = 1;

  /**
   * `nice`: the workers' scheduling priority on Linux (0..19; default 10), so the CPU-bound
   * checksumming of a checkpoint yields the CPU to the threads serving clients.
   */
  constructor(
    readonly size: number,
    readonly mode: FrameWriteMode = 'worker',
    readonly nice: number = DEFAULT_FRAME_WORKER_NICE,
  ) {
    invariant(Number.isInteger(size) && size >= 1, () => `a frame worker pool of ${size} workers`);
    invariant(Number.isInteger(nice) && nice >= 0 && nice <= 19, () => `frame worker nice value ${nice} (0..19)`);
  }

  /** Workers currently running. */
  get running(): number {
    return this.workers.length;
  }

  /** The least busy live worker, starting one while the pool is below its size. */
  private pick(): FrameWorker {
    let best: FrameWorker | undefined;
    for (const w of this.workers) if (best === undefined || w.pending.size < best.pending.size) best = w;
    if (best === undefined || (best.pending.size > 0 && this.workers.length < this.size)) {
      const w = new FrameWorker((dead) => {
        this.workers = this.workers.filter((x) => x !== dead);
      }, this.nice);
      this.workers.push(w);
      return w;
    }
    return best;
  }

  /**
   * Write `framed` (its payload framed and padded to framed.length bytes) at `position` of
   * descriptor `fd` (the file at `path`). An owned payload's ArrayBuffer is transferred away
   * (and comes back to blockBuffers after the write); shared parts are read where they are.
   */
  async write(fd: number, path: string, framed: FramedPayload, position: number): Promise<void> {
    const len = framed.payloadLength;
    const padded = framed.length;
    invariant(padded >= len + 8 && padded % 512 === 0, () => `frame of ${padded} bytes for a ${len}-byte payload`);
    const req: Request = { id: this.nextId++, fd, buf: framed.payload === null ? null : (framed.payload.buffer as ArrayBuffer), len, position, padded, write: WRITE_BY_MODE[this.mode] };
    if (framed.sharedParts !== null) req.shared = describeShared(framed.sharedParts);
    // An owned payload is detached once sent: from here on only req.len knows its length.
    const r = await this.pick().send(req, path);
    if (this.mode !== 'libuv') {
      if (r.buf !== undefined) blockBuffers.give(r.buf);
      return;
    }
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, req.len, true);
    const tail = new Uint8Array(padded - req.len - 4);
    new DataView(tail.buffer).setUint32(0, r.crc, true);
    if (framed.sharedParts !== null) {
      await writevAll(fd, path, [head, ...framed.sharedParts, tail], position);
      return;
    }
    invariant(r.buf !== undefined, 'a checksum-only reply hands an owned payload back');
    await writevAll(fd, path, [head, new Uint8Array(r.buf, 0, req.len), tail], position);
    blockBuffers.give(r.buf);
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** The request form of shared parts: each distinct SharedArrayBuffer once, and where each part lies in one. */
function describeShared(parts: readonly Uint8Array[]): NonNullable<Request['shared']> {
  const bufs: SharedArrayBuffer[] = [];
  const which: number[] = [];
  const offs: number[] = [];
  const lens: number[] = [];
  for (const p of parts) {
    const b = p.buffer as SharedArrayBuffer;
    let i = bufs.lastIndexOf(b);
    if (i < 0) i = bufs.push(b) - 1;
    which.push(i);
    offs.push(p.byteOffset);
    lens.push(p.length);
  }
  return { bufs, which, offs, lens };
}

/** pwritev every byte of parts at position on libuv's threads. */
async function writevAll(fd: number, path: string, parts: Uint8Array[], position: number): Promise<void> {
  let rest = parts;
  let at = position;
  while (rest.length > 0) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.writev(fd, rest, at, (err, written) => {
        if (err !== null) reject(ioError('pwrite', path, typeof err.code === 'string' ? err.code : 'EIO', err.message));
        else resolve(written);
      }),
    );
    if (n <= 0) throw ioError('pwrite', path, 'EIO', 'writev made no progress');
    at += n;
    rest = remainingParts(rest, n);
  }
}
