/**
 * Block-segmented sha256 (hash.ts segmentedSha256) of large parts on worker threads, so two
 * parts are hashed at once and hashing leaves the main thread free for the push's I/O. A
 * push uses it on a real device only (StorageCapabilities.realDevice): on SimStorage the
 * order of I/O must not depend on threads' timing (the crash tests replay it by seed).
 *
 * Invariants:
 *  - segmented() gives exactly segmentedSha256's digest and segments (test/backup/hash.test.ts
 *    compares them); the worker program below is that function in plain JavaScript.
 *  - The part's buffer is transferred to the worker and back (no copy); the caller uses the
 *    returned view, never the one it passed in.
 *  - Workers are unref'd while idle, so a pool never keeps a process alive; close() ends them.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const bytes = new Uint8Array(m.buffer, m.byteOffset, m.length);
  const outer = createHash('sha256');
  const segs = [];
  const end = m.offset + m.length;
  let at = m.offset;
  let i = 0;
  while (at < end) {
    const next = i < m.cuts.length ? m.cuts[i] : end;
    const d = createHash('sha256').update(bytes.subarray(at - m.offset, next - m.offset)).digest();
    outer.update(d);
    segs.push(at, next, d.toString('hex'));
    at = next;
    i++;
  }
  parentPort.postMessage({ id: m.id, sha: outer.digest('hex'), segs, buffer: m.buffer }, [m.buffer]);
});
`;

export interface SegmentedResult {
  /** The part's bytes (a view on the buffer that came back). */
  bytes: Uint8Array;
  sha256: string;
  /** Every segment: [start, end, sha256 hex] in file offsets. */
  segments: Array<[number, number, string]>;
}

interface Reply {
  id: number;
  sha: string;
  segs: Array<number | string>;
  buffer: ArrayBuffer;
}

export class HashWorkers {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void; worker: Worker }>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private failure: unknown;

  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      // No execArgv of the host: the program is CommonJS whatever flags started the host (--input-type=module would make it ESM).
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
      w.unref();
      w.on('message', (r: Reply) => {
        const p = this.waiting.get(r.id);
        if (p === undefined) return;
        this.waiting.delete(r.id);
        this.done(p.worker);
        p.resolve(r);
      });
      w.on('error', (err) => this.fail(err));
      this.workers.push(w);
      this.busy.set(w, 0);
    }
  }

  private done(w: Worker): void {
    const n = (this.busy.get(w) ?? 1) - 1;
    this.busy.set(w, n);
    if (n === 0) w.unref();
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    for (const [id, p] of this.waiting) {
      this.waiting.delete(id);
      p.reject(err);
    }
  }

  /** segmentedSha256(bytes, offset, cuts) with its segments, on the least busy worker. bytes must be a whole ArrayBuffer's view from offset 0. */
  segmented(bytes: Uint8Array, offset: number, cuts: readonly number[]): Promise<SegmentedResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    // Read before the transfer detaches the view.
    const byteOffset = bytes.byteOffset;
    const length = bytes.length;
    const end = offset + length;
    const inner = cuts.filter((c) => c > offset && c < end);
    let w = this.workers[0]!;
    for (const x of this.workers) if (this.busy.get(x)! < this.busy.get(w)!) w = x;
    const id = this.nextId++;
    this.busy.set(w, this.busy.get(w)! + 1);
    w.ref();
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: w });
      const buffer = bytes.buffer as ArrayBuffer;
      w.postMessage({ id, buffer, byteOffset, length, offset, cuts: inner }, [buffer]);
    }).then((r) => {
      const segments: Array<[number, number, string]> = [];
      for (let i = 0; i < r.segs.length; i += 3) segments.push([r.segs[i] as number, r.segs[i + 1] as number, r.segs[i + 2] as string]);
      return { bytes: new Uint8Array(r.buffer, byteOffset, length), sha256: r.sha, segments };
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
