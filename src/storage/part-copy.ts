/**
 * Copy a region of one real file into a new file and hash the copied bytes, on worker threads
 * (StorageCapabilities.partCopy, NodeStorage only): a backup's fast path. Each worker reads the
 * region into its own reused buffer, hashes it in segments and writes that same buffer, with
 * synchronous calls on its own thread: no bytes cross threads, no libuv pool thread is held
 * (reads and writes of the main thread do not queue behind it), and the two cores hash at once.
 *
 * Invariants:
 *  - The digest is of exactly the bytes written to the destination (one buffer is read,
 *    hashed, then written), whatever changes in the source meanwhile.
 *  - The digest is the block-segmented sha256 of the region (backup/hash.ts segmentedSha256,
 *    cut at the given cut points that fall inside the bytes read); test/storage/part-copy.test.ts
 *    compares the two. The worker program below is that function in plain JavaScript.
 *  - The destination is created or truncated, then holds exactly the bytes read (fewer than
 *    asked only at the source's end: `length` says how many). It is not fsynced: the caller
 *    makes it durable.
 *  - A failure is a TokusimError of kind 'io' naming the operation, path and OS code.
 *  - Workers are unref'd while idle, so a copier never keeps a process alive; close() ends them.
 */
import { ioError } from './io-error.js';
import { EvalWorkerPool, segmentTriples } from './eval-workers.js';
import type { PartCopier, PartCopyResult } from './storage.js';

export type { PartCopier, PartCopyResult } from './storage.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
let buf = Buffer.alloc(0);
const sources = new Map();
function run(m) {
  let op = 'open', path = m.src;
  try {
    let fd = sources.get(m.src);
    if (fd === undefined) { fd = fs.openSync(m.src, 'r'); sources.set(m.src, fd); }
    if (buf.length < m.length) buf = Buffer.alloc(m.length);
    op = 'read';
    let got = 0;
    while (got < m.length) {
      const n = fs.readSync(fd, buf, got, m.length - got, m.offset + got);
      if (n === 0) break;
      got += n;
    }
    const outer = createHash('sha256');
    const segs = [];
    const end = m.offset + got;
    let at = m.offset;
    let i = 0;
    while (at < end) {
      const next = i < m.cuts.length && m.cuts[i] < end ? m.cuts[i] : end;
      const d = createHash('sha256').update(buf.subarray(at - m.offset, next - m.offset)).digest();
      outer.update(d);
      segs.push(at, next, d.toString('hex'));
      at = next;
      i++;
    }
    op = 'open'; path = m.dest;
    const out = fs.openSync(m.dest, 'w');
    try {
      op = 'write';
      let put = 0;
      while (put < got) put += fs.writeSync(out, buf, put, got - put, put);
    } finally {
      fs.closeSync(out);
    }
    return { id: m.id, length: got, sha: outer.digest('hex'), segs };
  } catch (e) {
    return { id: m.id, error: { op, path, code: e && e.code ? String(e.code) : 'EIO', message: e && e.message ? String(e.message) : String(e) } };
  }
}
parentPort.on('message', (m) => {
  if (m.close !== undefined) {
    const fd = sources.get(m.close);
    if (fd !== undefined) { sources.delete(m.close); try { fs.closeSync(fd); } catch {} }
    return;
  }
  parentPort.postMessage(run(m));
});
`;

interface Reply {
  id: number;
  length?: number;
  sha?: string;
  segs?: Array<number | string>;
  error?: { op: string; path: string; code: string; message: string };
}

/** A {@link PartCopier} with `threads` worker threads. */
export class WorkerPartCopier implements PartCopier {
  private readonly pool: EvalWorkerPool<Reply>;

  constructor(threads: number) {
    this.pool = new EvalWorkerPool<Reply>(WORKER_SOURCE, threads);
  }

  async copy(src: string, offset: number, length: number, dest: string, cuts: readonly number[]): Promise<PartCopyResult> {
    const end = offset + length;
    const inner = cuts.filter((c) => c > offset && c < end);
    const r = await this.pool.request({ src, offset, length, dest, cuts: inner });
    if (r.error !== undefined) throw ioError(r.error.op, r.error.path, r.error.code, r.error.message);
    return { length: r.length!, sha256: r.sha!, segments: segmentTriples(r.segs!) };
  }

  done(src: string): void {
    this.pool.broadcast({ close: src });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
