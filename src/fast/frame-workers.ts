/**
 * Framed block writes off the main thread (NodeStorage only, installed by install.ts as its
 * FrameWriter). A node block on disk is [LE32 payload length][payload][LE32 x1764(payload)]
 * [zero padding to its padded length] (format/block-frame.ts).
 * Checksumming a large payload is the checkpoint's biggest piece of CPU work; here it runs on
 * a small pool of worker threads, which also write the frame with one gathering pwritev
 * (header, payload, trailer+padding) on the file's descriptor, so the payload is neither
 * copied into a frame nor checksummed on the thread that serves clients. The payload's
 * ArrayBuffer is transferred to the worker (zero-copy) and back after the write, into
 * blockBuffers (buffer-pool.ts) for reuse. The worker's program is frame-worker-main.ts.
 *
 * Three modes, selectable for measurement (FrameWriteMode): the worker checksums and writes
 * (asynchronously or synchronously), or it only checksums and hands the buffer back for the
 * main thread to write.
 *
 * Messages are batched both ways: the requests made during one turn of the main thread's
 * event loop go to a worker in one message, and the worker answers the writes that finish
 * together in one message. A batch's frames that lie back to back in one file are written
 * with one pwritev. Each hand-off between threads costs a wake-up and a context switch; on a
 * checkpoint of ~1000 blocks, one message per block each way was a large share of its CPU.
 *
 * Invariants:
 *  - A FramedPayload is written only by a NodeStorage with this pool installed (its
 *    FrameWriter claims it); its own bytes are a poison pattern (length field 0xffffffff), so a
 *    storage that wrote it as plain bytes would leave a block that fails to unframe
 *    ('bad-length'), never a wrong value.
 *  - The bytes a framed write leaves on disk are exactly frameBlock(payload, padTo512).
 *  - Every failure of a framed write (OS error, worker crash) rejects its promise with a
 *    TokusimError of kind 'io' naming the path; no request is ever left unanswered.
 *  - A worker is ref'd exactly while it has requests in flight, so an idle pool never keeps
 *    the process alive and a busy one never lets it exit under a pending write.
 *  - close() terminates every worker; a later request starts a fresh pool.
 *  - A worker starts the same however the host process was started: it gets no execArgv of
 *    the host. It runs the compiled frame-worker-main.js beside this module, or, when this
 *    module runs from TypeScript sources (the test runner), that module bundled by esbuild.
 *  - Batching changes no bytes and no outcome: each request still gets its own answer (its
 *    checksum, or the error of the write that carried it), and a request is sent no later
 *    than the end of the event-loop turn that made it.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { invariant } from '../base/errors.js';
import { totalLength } from '../base/bytes.js';
import { frameHead, frameTail, framedLength } from '../format/block-frame.js';
import { ioError } from '../storage/io-error.js';
import type { FrameWriter } from '../storage/node-storage.js';
import { blockBuffers } from './buffer-pool.js';
import { remainingParts, type FrameBatch, type FrameReply, type FrameRequest, type FrameWriteMode } from './frame-protocol.js';
import { sharedPages } from './shared-pages.js';

export type { FrameWriteMode } from './frame-protocol.js';

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
  /** What the shared parts belong to, kept reachable until the write has finished (so pages it holds are not reused). */
  owner: unknown = undefined;

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
    const padded = framedLength(length);
    super(poisonOf(padded), 0, padded);
    this.payload = payload;
    this.sharedParts = sharedParts;
    this.payloadLength = length;
  }

  /**
   * Frame the concatenation of `parts`, every one a view on a SharedArrayBuffer: the frame
   * worker gathers, checksums and writes them where they are, so the thread that made them
   * copies nothing. The parts must not change until the write has finished. `owner` (the
   * value the parts belong to) is kept reachable until then.
   */
  static ofSharedParts(parts: readonly Uint8Array[], owner?: unknown): FramedPayload {
    const f = new FramedPayload(null, parts, totalLength(parts));
    f.owner = owner;
    return f;
  }
}

/** True when every part is a view on a SharedArrayBuffer (so FramedPayload.ofSharedParts takes them). */
export function allShared(parts: readonly Uint8Array[]): boolean {
  for (const p of parts) if (!(p.buffer instanceof SharedArrayBuffer)) return false;
  return parts.length > 0;
}

/**
 * The program a frame worker runs: the compiled frame-worker-main.js beside this file, or,
 * when this module runs from its TypeScript source (the test runner, which has no .js file
 * to point a Worker at), that module bundled by esbuild (a development dependency).
 */
let workerProgram: { url: URL } | { source: string } | undefined;

function program(): { url: URL } | { source: string } {
  if (workerProgram !== undefined) return workerProgram;
  const js = new URL('./frame-worker-main.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(js))) return (workerProgram = { url: js });
  const esbuild = createRequire(import.meta.url)('esbuild') as {
    buildSync(o: object): { outputFiles: Array<{ text: string }> };
  };
  const built = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL('./frame-worker-main.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  return (workerProgram = { source: built.outputFiles[0]!.text });
}

interface Pending {
  resolve(r: { crc: number; buf?: ArrayBuffer }): void;
  reject(err: Error): void;
  path: string;
  /** The payload being written (kept reachable, with its owner, until the answer). */
  framed: FramedPayload;
}

class FrameWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead = false;
  /** Requests made in this turn of the event loop, sent together at its end. */
  private outbox: FrameRequest[] = [];
  private outboxTransfers: ArrayBuffer[] = [];
  /** The arena memory this worker has been sent (its requests name arena pages by offset). */
  private arenaSent: object | null = null;

  constructor(
    private readonly onDeath: (w: FrameWorker) => void,
    nice: number,
  ) {
    // No execArgv of the host: a worker inherits them by default, and a host started with
    // --input-type=module (or a module default type) would make the bundled script an ES module.
    const p = program();
    this.worker = 'url' in p ? new Worker(p.url, { execArgv: [], workerData: { nice } }) : new Worker(p.source, { eval: true, execArgv: [], workerData: { nice } });
    this.worker.unref();
    this.worker.on('message', (rs: FrameReply[]) => {
      for (const r of rs) this.settle(r);
    });
    this.worker.on('error', (err) => this.die(err instanceof Error ? err.message : String(err)));
    this.worker.on('exit', (code) => this.die(`frame worker exited with code ${code}`));
  }

  send(req: FrameRequest, path: string, framed: FramedPayload): Promise<{ crc: number; buf?: ArrayBuffer }> {
    invariant(!this.dead, 'a request goes to a live frame worker');
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(req.id, { resolve, reject, path, framed });
      if (this.outbox.length === 0) setImmediate(this.flush);
      if (req.buf !== null) {
        // Taken from the caller now (its buffer detached, the bytes moved, not copied), so
        // nobody can change the payload while it waits for the end of the turn.
        req.buf = structuredClone(req.buf, { transfer: [req.buf] });
        this.outboxTransfers.push(req.buf);
      }
      this.outbox.push(req);
    });
  }

  /** Send the requests of this turn in one message (their owned buffers transferred). */
  private readonly flush = (): void => {
    const batch = this.outbox;
    const transfers = this.outboxTransfers;
    this.outbox = [];
    this.outboxTransfers = [];
    // A worker that died meanwhile has already rejected every pending request.
    if (this.dead || batch.length === 0) return;
    const msg: FrameBatch = { reqs: batch };
    const arena = sharedPages();
    if (arena !== null && arena.memory !== this.arenaSent && batch.some((r) => r.shared?.which.includes(-1) === true)) {
      msg.memory = arena.memory;
      this.arenaSent = arena.memory;
    }
    this.worker.postMessage(msg, transfers);
  };

  private settle(r: FrameReply): void {
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

const WRITE_BY_MODE: Record<FrameWriteMode, FrameRequest['write']> = { worker: 'async', 'worker-sync': 'sync', libuv: 'none' };

/** The window over which the pool judges whether its caller is busy. */
const BUSY_WINDOW_MS = 5;
/** Above this event-loop utilization the caller counts as busy and the pool uses one worker. */
const BUSY_UTILIZATION = 0.5;

/**
 * The default busy probe: true when the calling thread's event loop was busy more than
 * BUSY_UTILIZATION of the last BUSY_WINDOW_MS (re-measured at most once per window).
 */
export function eventLoopBusyProbe(): () => boolean {
  let mark = performance.eventLoopUtilization();
  let at = Number.NEGATIVE_INFINITY;
  let busy = false;
  return () => {
    const now = performance.now();
    if (now - at >= BUSY_WINDOW_MS) {
      const next = performance.eventLoopUtilization();
      busy = performance.eventLoopUtilization(next, mark).utilization > BUSY_UTILIZATION;
      mark = next;
      at = now;
    }
    return busy;
  };
}

/**
 * A pool of frame workers, started on first use, and the FrameWriter of the NodeStorage it is
 * installed on: it claims FramedPayloads. Writes go to the least busy worker, over all
 * of them while the thread that makes the requests has time to spare, over one while it is
 * busy: on a small machine a checkpoint whose workers take every CPU makes the thread that
 * serves clients wait for one (measured: client p99 during a checkpoint 1.5-7x the quiet one
 * with two busy workers on two CPUs, against ~1.1-1.8x with one).
 */
export class FrameWorkerPool implements FrameWriter {
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
    /** Whether the calling thread is busy now (default: its event-loop utilization, see eventLoopBusyProbe). */
    private readonly isCallerBusy: () => boolean = eventLoopBusyProbe(),
  ) {
    invariant(Number.isInteger(size) && size >= 1, () => `a frame worker pool of ${size} workers`);
    invariant(Number.isInteger(nice) && nice >= 0 && nice <= 19, () => `frame worker nice value ${nice} (0..19)`);
  }

  /** Times the pool spread writes over its workers, and times it kept to one (for benchmarks and tests). */
  readonly spread = { all: 0, one: 0 };

  private callerBusy(): boolean {
    const busy = this.isCallerBusy();
    if (busy) this.spread.one++;
    else this.spread.all++;
    return busy;
  }

  /** Workers currently running. */
  get running(): number {
    return this.workers.length;
  }

  /** The least busy live worker, starting one while the pool is below its size. */
  private pick(): FrameWorker {
    // While the calling thread is busy (serving clients), one worker: a second one would take
    // the other CPU it needs. While it has time to spare, all of them.
    const limit = this.size > 1 && this.callerBusy() ? 1 : this.size;
    let best: FrameWorker | undefined;
    for (let i = 0; i < Math.min(limit, this.workers.length); i++) {
      const w = this.workers[i]!;
      if (best === undefined || w.pending.size < best.pending.size) best = w;
    }
    if (best === undefined || (best.pending.size > 0 && this.workers.length < limit)) {
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
  claims(data: Uint8Array): boolean {
    return data instanceof FramedPayload;
  }

  async write(fd: number, path: string, data: Uint8Array, position: number): Promise<void> {
    invariant(data instanceof FramedPayload, 'a frame worker writes framed payloads only');
    const framed = data;
    const len = framed.payloadLength;
    const padded = framed.length;
    invariant(padded >= len + 8 && padded % 512 === 0, () => `frame of ${padded} bytes for a ${len}-byte payload`);
    const req: FrameRequest = { id: this.nextId++, fd, buf: framed.payload === null ? null : (framed.payload.buffer as ArrayBuffer), len, position, padded, write: WRITE_BY_MODE[this.mode] };
    if (framed.sharedParts !== null) req.shared = describeShared(framed.sharedParts);
    // An owned payload is detached once sent: from here on only req.len knows its length.
    const r = await this.pick().send(req, path, framed);
    if (this.mode !== 'libuv') {
      if (r.buf !== undefined) blockBuffers.give(r.buf);
      return;
    }
    const head = frameHead(req.len);
    const tail = frameTail(req.len, r.crc, padded);
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

/** The request form of shared parts: each distinct SharedArrayBuffer once, and where each part lies in one (parts back to back in one buffer joined). */
function describeShared(parts: readonly Uint8Array[]): NonNullable<FrameRequest['shared']> {
  const arena = sharedPages();
  const bufs: SharedArrayBuffer[] = [];
  const which: number[] = [];
  const offs: number[] = [];
  const lens: number[] = [];
  for (const p of parts) {
    const b = p.buffer as SharedArrayBuffer;
    const last = which.length - 1;
    if (arena !== null && arena.owns(b)) {
      // An arena page: named by its offset in the arena's memory (joined to the part before
      // when that one ends where it starts).
      if (last >= 0 && which[last] === -1 && offs[last]! + lens[last]! === p.byteOffset) lens[last]! += p.length;
      else {
        which.push(-1);
        offs.push(p.byteOffset);
        lens.push(p.length);
      }
      continue;
    }
    if (last >= 0 && bufs[which[last]!] === b && offs[last]! + lens[last]! === p.byteOffset) {
      // Back to back in one buffer (e.g. a value's first pages): one part, one iovec.
      lens[last]! += p.length;
      continue;
    }
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
