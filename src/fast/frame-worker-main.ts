/**
 * The program of a frame worker thread (started by frame-workers.ts, never imported): it
 * checksums the frames of a batch of requests and, unless told to only checksum, writes each
 * run of frames that lie back to back in one file with one gathering pwritev, answering every
 * request once.
 *
 * Invariants:
 *  - Every request gets exactly one reply: its checksum, or the error of the write that
 *    carried it (an OS error code, EIO when there is none).
 *  - The bytes written for a request are frameHead + payload + frameTail (format/block-frame.ts).
 *  - Shared parts are read where they are (arena parts folded in place by the shared-memory
 *    kernel), never written; an owned buffer goes back to the main thread with its reply.
 */
import * as fs from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { frameHead, frameTail } from '../format/block-frame.js';
import { setX1764Kernel, x1764, x1764Parts } from '../format/x1764.js';
import { remainingParts, type ArenaMemory, type FrameBatch, type FrameReply, type FrameRequest, type FrameWorkerData } from './frame-protocol.js';
import { instantiateShared, wasmX1764Kernel, x1764Ranges, type SharedX1764Kernel } from './x1764-wasm.js';

/** Frames that lie back to back in one file, written with one pwritev. */
interface Run {
  reqs: FrameRequest[];
  crcs: number[];
  parts: Uint8Array[];
  end: number;
}

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Background priority: on Linux a thread's nice value is set through its own thread id, read
 * from /proc/thread-self. Best effort: elsewhere (or if refused) the worker runs at the
 * process's priority.
 */
function lowerPriority(nice: number): void {
  if (nice === 0) return;
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // not Linux, or not permitted: keep the default priority
  }
}

function serve(port: NonNullable<typeof parentPort>, data: FrameWorkerData): void {
  setX1764Kernel(wasmX1764Kernel());
  lowerPriority(data.nice);
  // Answers waiting to be sent, with the buffers they hand back; sent together once the
  // writes that finish in this turn have all reported.
  let replies: FrameReply[] = [];
  let transfers: ArrayBuffer[] = [];
  let replyScheduled = false;
  const sendReplies = (): void => {
    replyScheduled = false;
    const r = replies;
    const t = transfers;
    replies = [];
    transfers = [];
    if (r.length > 0) port.postMessage(r, t);
  };
  const reply = (r: FrameReply, buf?: ArrayBuffer | null): void => {
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
  const done = (m: FrameRequest, crc: number): void => {
    if (m.buf === null) reply({ id: m.id, crc });
    else reply({ id: m.id, crc, buf: m.buf }, m.buf);
  };
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
          const n = fs.writevSync(first.fd, left, position);
          if (n <= 0) throw errorWithCode('writev made no progress', 'EIO');
          position += n;
          left = remainingParts(left, n);
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
      fs.writev(first.fd, left, position, (err, n) => {
        if (err !== null) finish(err);
        else if (n <= 0) finish(errorWithCode('writev made no progress', 'EIO'));
        else step(remainingParts(left, n), position + n);
      });
    };
    step(run.parts, first.position);
  };
  // The shared page arena's memory (sent with the first batch that needs it) and the kernel
  // that folds its pages in place.
  let arena: ArenaMemory | null = null;
  let kernel: SharedX1764Kernel | null = null;
  port.on('message', (msg: FrameBatch) => {
    if (msg.memory !== undefined) {
      arena = msg.memory;
      kernel = instantiateShared(arena);
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
          if (total !== m.len) throw errorWithCode(`shared parts hold ${total} bytes, not ${m.len}`, 'EINVAL');
          if (inArena > 0 && mem === null) throw errorWithCode('arena parts without the arena', 'EINVAL');
          payload = sh.lens.map((n, i) => (sh.which[i] === -1 ? mem!.subarray(sh.offs[i]!, sh.offs[i]! + n) : new Uint8Array(sh.bufs[sh.which[i]!]!, sh.offs[i]!, n)));
          // All in the arena: folded in place; otherwise streamed through the kernel's scratch.
          crc = inArena === sh.lens.length ? x1764Ranges(kernel, mem!, sh.offs, sh.lens) : x1764Parts(payload);
        } else {
          payload = [new Uint8Array(m.buf!, 0, m.len)];
          crc = x1764(payload[0]!);
        }
        if (m.write === 'none') {
          done(m, crc);
          continue;
        }
        const joins = run !== null && run.reqs[0]!.fd === m.fd && run.end === m.position && run.reqs[0]!.write === m.write;
        if (!joins) {
          if (run !== null) writeRun(run);
          run = { reqs: [], crcs: [], parts: [], end: m.position };
        }
        run!.reqs.push(m);
        run!.crcs.push(crc);
        run!.parts.push(frameHead(m.len), ...payload, frameTail(m.len, crc, m.padded));
        run!.end += m.padded;
      } catch (err) {
        fail(m.id, err);
      }
    }
    if (run !== null) writeRun(run);
  });
}

if (parentPort !== null) serve(parentPort, workerData as FrameWorkerData);
