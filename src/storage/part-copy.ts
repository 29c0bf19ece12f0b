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
import { Worker } from 'node:worker_threads';
import { ioError } from './io-error.js';
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
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void; worker: Worker }>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private failure: unknown;

  constructor(threads: number) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      // No execArgv of the host: the program is CommonJS whatever flags started the host.
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
      w.unref();
      w.on('message', (r: Reply) => {
        const p = this.waiting.get(r.id);
        if (p === undefined) return;
        this.waiting.delete(r.id);
        const n = this.busy.get(p.worker)! - 1;
        this.busy.set(p.worker, n);
        if (n === 0) p.worker.unref();
        p.resolve(r);
      });
      w.on('error', (err) => {
        this.failure ??= err;
        for (const [id, p] of this.waiting) {
          this.waiting.delete(id);
          p.reject(err);
        }
      });
      this.workers.push(w);
      this.busy.set(w, 0);
    }
  }

  async copy(src: string, offset: number, length: number, dest: string, cuts: readonly number[]): Promise<PartCopyResult> {
    if (this.failure !== undefined) throw this.failure;
    const end = offset + length;
    const inner = cuts.filter((c) => c > offset && c < end);
    let w = this.workers[0]!;
    for (const x of this.workers) if (this.busy.get(x)! < this.busy.get(w)!) w = x;
    const id = this.nextId++;
    this.busy.set(w, this.busy.get(w)! + 1);
    w.ref();
    const r = await new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: w });
      w.postMessage({ id, src, offset, length, dest, cuts: inner });
    });
    if (r.error !== undefined) throw ioError(r.error.op, r.error.path, r.error.code, r.error.message);
    const segments: Array<[number, number, string]> = [];
    const s = r.segs!;
    for (let i = 0; i < s.length; i += 3) segments.push([s[i] as number, s[i + 1] as number, s[i + 2] as string]);
    return { length: r.length!, sha256: r.sha!, segments };
  }

  done(src: string): void {
    for (const w of this.workers) w.postMessage({ close: src });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
