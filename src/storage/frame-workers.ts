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
 * Messages are batched both ways: the requests made during one turn of the main thread's
 * event loop go to a worker in one message, and the worker answers the writes that finish
 * together in one message. A batch's frames that lie back to back in one file are written
 * with one pwritev. Each hand-off between threads costs a wake-up and a context switch; on a
 * checkpoint of ~1000 blocks, one message per block each way was a large share of its CPU.
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
 *  - A worker starts the same however the host process was started: it gets no execArgv of
 *    the host (so no module-type flag) and finds built-in modules either way.
 *  - Batching changes no bytes and no outcome: each request still gets its own answer (its
 *    checksum, or the error of the write that carried it), and a request is sent no later
 *    than the end of the event-loop turn that made it.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { invariant } from '../base/errors.js';
import { totalLength } from '../base/bytes.js';
import { x1764ScriptSource } from '../format/x1764.js';
import { blockBuffers } from './buffer-pool.js';
import { ioError } from './io-error.js';
import { sharedPages } from './shared-pages.js';

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
    const padded = Math.ceil((length + 8) / 512) * 512;
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
  /**
   * The payload as parts of shared memory: part i is bytes [offs[i], offs[i] + lens[i]) of
   * bufs[which[i]], or of the shared page arena's memory when which[i] is -1.
   */
  shared?: { bufs: SharedArrayBuffer[]; which: number[]; offs: number[]; lens: number[] };
  len: number;
  position: number;
  padded: number;
  write: 'sync' | 'async' | 'none';
}

type Reply = { id: number; crc: number; buf?: ArrayBuffer } | { id: number; error: { code: string; message: string } };

/** A shared WebAssembly.Memory as the worker sees it. */
interface ArenaMemory {
  readonly buffer: SharedArrayBuffer;
}
interface InPlaceKernel {
  foldAt(start: number, end: number, lo: number, hi: number): number;
  hi(): number;
}
/** One message to a worker: the requests of one turn, and the arena's memory when the worker has not had it yet. */
interface Batch {
  memory?: ArenaMemory;
  reqs: Request[];
}

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
  checksumRanges: (k: InPlaceKernel | null, mem: Uint8Array, offs: number[], lens: number[]) => number,
  sharedKernel: (memory: ArenaMemory) => InPlaceKernel | null,
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
  // Answers waiting to be sent, with the buffers they hand back; sent together once the
  // writes that finish in this turn have all reported.
  let replies: Reply[] = [];
  let transfers: ArrayBuffer[] = [];
  let replyScheduled = false;
  const sendReplies = (): void => {
    replyScheduled = false;
    const r = replies;
    const t = transfers;
    replies = [];
    transfers = [];
    if (r.length > 0) parentPort!.postMessage(r, t);
  };
  const reply = (r: Reply, buf?: ArrayBuffer | null): void => {
    replies.push(r);
    if (buf !== undefined && buf !== null) transfers.push(buf);
    if (!replyScheduled) {
      replyScheduled = true;
      setImmediate(sendReplies);
    }
  };
  const fail = (id: number, err: unknown): void => {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' && e.code.length > 0 ? e.code : 'EIO';
    reply({ id, error: { code, message: String(e.message ?? err) } });
  };
  // An owned buffer goes back to the main thread (for reuse) with the answer.
  const done = (m: Request, crc: number): void => {
    if (m.buf === null) reply({ id: m.id, crc });
    else reply({ id: m.id, crc, buf: m.buf }, m.buf);
  };
  /** Frames that lie back to back in one file, written with one pwritev. */
  interface Run {
    reqs: Request[];
    crcs: number[];
    parts: Uint8Array[];
    end: number;
  }
  const writeRun = (run: Run): void => {
    const first = run.reqs[0]!;
    const finish = (err: unknown): void => {
      run.reqs.forEach((m, i) => (err === null ? done(m, run.crcs[i]!) : fail(m.id, err)));
    };
    if (first.write === 'sync') {
      try {
        let left = run.parts;
        let position = first.position;
        while (left.length > 0) {
          const n = fsw.writevSync(first.fd, left, position);
          if (n <= 0) throw Object.assign(new Error('writev made no progress'), { code: 'EIO' });
          position += n;
          left = rest(left, n);
        }
        finish(null);
      } catch (err) {
        finish(err);
      }
      return;
    }
    // 'async': the write runs on an I/O thread while this worker checksums the next batch.
    const step = (left: Uint8Array[], position: number): void => {
      if (left.length === 0) {
        finish(null);
        return;
      }
      fsw.writev(first.fd, left, position, (err, n) => {
        if (err !== null) finish(err);
        else if (n <= 0) finish(Object.assign(new Error('writev made no progress'), { code: 'EIO' }));
        else step(rest(left, n), position + n);
      });
    };
    step(run.parts, first.position);
  };
  // The shared page arena's memory (sent with the first batch that needs it) and the kernel
  // that folds its pages in place.
  let arena: ArenaMemory | null = null;
  let kernel: InPlaceKernel | null = null;
  parentPort!.on('message', (msg: Batch) => {
    if (msg.memory !== undefined) {
      arena = msg.memory;
      kernel = sharedKernel(arena);
    }
    let run: Run | null = null;
    // A view of the whole arena as it is now (it may have grown since the last batch).
    const mem = arena !== null ? new Uint8Array(arena.buffer) : null;
    for (const m of msg.reqs) {
      try {
        let payload: Uint8Array[];
        let crc: number;
        if (m.shared !== undefined) {
          // Shared parts are checksummed and written where they are (no gathering copy).
          const sh = m.shared;
          let total = 0;
          let inArena = 0;
          for (let i = 0; i < sh.lens.length; i++) {
            total += sh.lens[i]!;
            if (sh.which[i] === -1) inArena++;
          }
          if (total !== m.len) throw Object.assign(new Error(`shared parts hold ${total} bytes, not ${m.len}`), { code: 'EINVAL' });
          if (inArena > 0 && mem === null) throw Object.assign(new Error('arena parts without the arena'), { code: 'EINVAL' });
          payload = sh.lens.map((n, i) => (sh.which[i] === -1 ? mem!.subarray(sh.offs[i]!, sh.offs[i]! + n) : new Uint8Array(sh.bufs[sh.which[i]!]!, sh.offs[i]!, n)));
          // All in the arena: folded in place; otherwise streamed through the kernel's scratch.
          crc = inArena === sh.lens.length ? checksumRanges(kernel, mem!, sh.offs, sh.lens) : checksumParts(payload);
        } else {
          payload = [new Uint8Array(m.buf!, 0, m.len)];
          crc = checksum(payload[0]!);
        }
        if (m.write === 'none') {
          done(m, crc);
          continue;
        }
        const head = new Uint8Array(4);
        new DataView(head.buffer).setUint32(0, m.len, true);
        const tail = new Uint8Array(m.padded - m.len - 4);
        new DataView(tail.buffer).setUint32(0, crc, true);
        const joins = run !== null && run.reqs[0]!.fd === m.fd && run.end === m.position && run.reqs[0]!.write === m.write;
        if (!joins) {
          if (run !== null) writeRun(run);
          run = { reqs: [], crcs: [], parts: [], end: m.position };
        }
        run!.reqs.push(m);
        run!.crcs.push(crc);
        run!.parts.push(head, ...payload, tail);
        run!.end += m.padded;
      } catch (err) {
        fail(m.id, err);
      }
    }
    if (run !== null) writeRun(run);
  });
}

// The program reaches Node's built-in modules through require when it runs as a script, and
// through process.getBuiltinModule when a module-type flag still made it an ES module.
const WORKER_SOURCE = `${x1764ScriptSource()}\n(${workerMain.toString()})(x1764, x1764Parts, x1764Ranges, x1764SharedKernel, typeof require === 'function' ? require : (id) => process.getBuiltinModule(id), ${remainingParts.toString()});\n`;

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
  private outbox: Request[] = [];
  private outboxTransfers: ArrayBuffer[] = [];
  /** The arena memory this worker has been sent (its requests name arena pages by offset). */
  private arenaSent: object | null = null;

  constructor(
    private readonly onDeath: (w: FrameWorker) => void,
    nice: number,
  ) {
    // No execArgv of the host: a worker inherits them by default, and a host started with
    // --input-type=module (or a module default type) would make this script an ES module.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { nice } });
    this.worker.unref();
    this.worker.on('message', (rs: Reply[]) => {
      for (const r of rs) this.settle(r);
    });
    this.worker.on('error', (err) => this.die(err instanceof Error ? err.message : String(err)));
    this.worker.on('exit', (code) => this.die(`frame worker exited with code ${code}`));
  }

  send(req: Request, path: string, framed: FramedPayload): Promise<{ crc: number; buf?: ArrayBuffer }> {
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
    const msg: Batch = { reqs: batch };
    const arena = sharedPages();
    if (arena !== null && arena.memory !== this.arenaSent && batch.some((r) => r.shared?.which.includes(-1) === true)) {
      msg.memory = arena.memory;
      this.arenaSent = arena.memory;
    }
    this.worker.postMessage(msg, transfers);
  };

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
 * A pool of frame workers, started on first use. Writes go to the least busy worker, over all
 * of them while the thread that makes the requests has time to spare, over one while it is
 * busy: on a small machine a checkpoint whose workers take every CPU makes the thread that
 * serves clients wait for one (measured: client p99 during a checkpoint 1.5-7x the quiet one
 * with two busy workers on two CPUs, against ~1.1-1.8x with one).
 */
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
  async write(fd: number, path: string, framed: FramedPayload, position: number): Promise<void> {
    const len = framed.payloadLength;
    const padded = framed.length;
    invariant(padded >= len + 8 && padded % 512 === 0, () => `frame of ${padded} bytes for a ${len}-byte payload`);
    const req: Request = { id: this.nextId++, fd, buf: framed.payload === null ? null : (framed.payload.buffer as ArrayBuffer), len, position, padded, write: WRITE_BY_MODE[this.mode] };
    if (framed.sharedParts !== null) req.shared = describeShared(framed.sharedParts);
    // An owned payload is detached once sent: from here on only req.len knows its length.
    const r = await this.pick().send(req, path, framed);
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

/** The request form of shared parts: each distinct SharedArrayBuffer once, and where each part lies in one (parts back to back in one buffer joined). */
function describeShared(parts: readonly Uint8Array[]): NonNullable<Request['shared']> {
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
