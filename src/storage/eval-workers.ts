/**
 * A small pool of worker threads running one inline CommonJS program, for the Node-side
 * copy and hash helpers (storage/part-copy.ts, backup/hash-workers.ts). Each request goes to
 * the least busy worker; a worker is referenced only while it has requests in flight, so an
 * idle pool never keeps the process alive.
 *
 * Invariants:
 *  - busy(w) equals the number of requests sent to w and not yet answered or rejected.
 *  - After a worker error every waiting request is rejected with it, and so is every later one.
 */
import { Worker } from 'node:worker_threads';

/** What every worker reply carries: the id of the request it answers. */
export interface WorkerReply {
  id: number;
}

/** Worker threads running `source` (CommonJS, evaluated), answering requests by id. */
export class EvalWorkerPool<Reply extends WorkerReply> {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void; worker: Worker }>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private failure: unknown;

  constructor(source: string, threads: number) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      // No execArgv of the host: the program is CommonJS whatever flags started the host.
      const w = new Worker(source, { eval: true, execArgv: [] });
      w.unref();
      w.on('message', (r: Reply) => {
        const p = this.waiting.get(r.id);
        if (p === undefined) return;
        this.waiting.delete(r.id);
        this.release(p.worker);
        p.resolve(r);
      });
      w.on('error', (err) => this.fail(err));
      this.workers.push(w);
      this.busy.set(w, 0);
    }
  }

  /** Send `message` plus a fresh `id` to the least busy worker; resolves with its reply. */
  request(message: object, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    let w = this.workers[0]!;
    for (const x of this.workers) if (this.busy.get(x)! < this.busy.get(w)!) w = x;
    const id = this.nextId++;
    this.busy.set(w, this.busy.get(w)! + 1);
    w.ref();
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: w });
      w.postMessage({ ...message, id }, transfer);
    });
  }

  /** Send `message` to every worker (no reply expected). */
  broadcast(message: object): void {
    for (const w of this.workers) w.postMessage(message);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }

  private release(w: Worker): void {
    const n = this.busy.get(w)! - 1;
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
}

/** Segments sent flat as [start, end, sha, start, end, sha, ...] back as triples. */
export function segmentTriples(flat: ReadonlyArray<number | string>): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = [];
  for (let i = 0; i < flat.length; i += 3) out.push([flat[i] as number, flat[i + 1] as number, flat[i + 2] as string]);
  return out;
}
