/**
 * The messages between the frame worker pool (frame-workers.ts) and a frame worker
 * (frame-worker-main.ts): one module both import, so the type checker sees both ends.
 */

/**
 * 'worker': the worker checksums and issues the pwritev asynchronously (it checksums the next
 * block while the write runs on an I/O thread); 'worker-sync': the worker writes synchronously;
 * 'libuv': the worker only checksums, the main thread issues the pwritev.
 */
export type FrameWriteMode = 'worker' | 'worker-sync' | 'libuv';

/** One block to checksum (and, unless `write` is 'none', write) as a frame. */
export interface FrameRequest {
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

/** The answer to one request: its checksum (and an owned buffer handed back), or the error of its write. */
export type FrameReply = { id: number; crc: number; buf?: ArrayBuffer } | { id: number; error: { code: string; message: string } };

/** A shared WebAssembly.Memory as the worker sees it. */
export interface ArenaMemory {
  readonly buffer: SharedArrayBuffer;
}

/** One message to a worker: the requests of one turn, and the arena's memory when the worker has not had it yet. */
export interface FrameBatch {
  memory?: ArenaMemory;
  reqs: FrameRequest[];
}

/** What the worker is started with. */
export interface FrameWorkerData {
  /** Its nice value on Linux (0: leave the priority alone). */
  nice: number;
}

/** What is left of parts after n more bytes were written (a short write is rare, but possible). */
export function remainingParts(parts: Uint8Array[], n: number): Uint8Array[] {
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
