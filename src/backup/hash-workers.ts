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
import { EvalWorkerPool, segmentTriples } from '../storage/eval-workers.js';

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
  private readonly pool: EvalWorkerPool<Reply>;

  constructor(n: number) {
    this.pool = new EvalWorkerPool<Reply>(WORKER_SOURCE, n);
  }

  /** segmentedSha256(bytes, offset, cuts) with its segments, on the least busy worker. bytes must be a whole ArrayBuffer's view from offset 0. */
  segmented(bytes: Uint8Array, offset: number, cuts: readonly number[]): Promise<SegmentedResult> {
    // Read before the transfer detaches the view.
    const byteOffset = bytes.byteOffset;
    const length = bytes.length;
    const end = offset + length;
    const inner = cuts.filter((c) => c > offset && c < end);
    const buffer = bytes.buffer as ArrayBuffer;
    return this.pool.request({ buffer, byteOffset, length, offset, cuts: inner }, [buffer]).then((r) => ({
      bytes: new Uint8Array(r.buffer, byteOffset, length),
      sha256: r.sha,
      segments: segmentTriples(r.segs),
    }));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
