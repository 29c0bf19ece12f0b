/**
 * Benchmark of the sharp checkpointer on NodeStorage (real files, real fsync) under
 * bench-data/checkpoint (git-ignored). Not a test: it prints figures and asserts nothing.
 *
 *  1. Client latency (p50, p99, max) of pin-modify-unpin with no checkpoint running, during a
 *     checkpoint whose dictionary clones, and during one that does not clone. Cloning runs
 *     twice: with values in copy-on-write pages (CowBytes: a clone shares the pages, a write
 *     copies one) and with plain bytes cloned by a full copy (as PerconaFT's clone callback
 *     copies a node); each is judged against a quiet phase with its own kind of value. A
 *     client pins with tryGetAndPin (the non-blocking pin) and falls back to getAndPin when
 *     it would wait (BENCH_PIN=async: always getAndPin). Every PAIR is
 *     dirty when the checkpoint begins, and CLIENTS concurrent clients pin random PAIRs of a
 *     hot set (a quarter of all PAIRs) for the whole checkpoint, so many pins land on PAIRs
 *     that are still pending or being written. Without cloning such a pin waits for a disk
 *     write (the client writes the PAIR itself, or waits for the checkpoint thread, which holds
 *     the write lock during its write); with cloning it waits only for a memory copy.
 *     Printed with the ratios against "no checkpoint" (target: cloning p99 within 1.5x, and
 *     clearly better than without cloning). BENCH_ROUNDS rounds (default 3) of the three
 *     phases, each phase started with the disk quiet (sync(1)); figures are medians over the
 *     rounds. "Pending hits" are the ops during which some client resolved a pending PAIR
 *     (where cloning is meant to help). Samples go to buffers allocated once, so measuring
 *     does not itself allocate.
 *  2. Checkpoint write throughput (MB/s) with every PAIR dirty and no client, at the PAIR size
 *     of section 1 and at TokuDB's default node size, 4 MiB (only the former when BENCH_NODE_KB
 *     is set), for the write window of 1 (strictly one PAIR at a time, as PerconaFT) and the
 *     default window, next to
 *     the raw sequential write speed of the same disk measured in the same run, both for a new
 *     file and for overwriting one (1 MiB pwrites and an fsync). With every PAIR rewritten,
 *     checkpoints alternate between writing into space freed two checkpoints back and growing
 *     the file (see checkpointMBps); each kind is compared with the raw write of the same kind
 *     (overwrite, new file), which is how the 70% target is read, and all of them together
 *     with the faster raw, the strictest reading. Raw runs alternate with the checkpoints,
 *     each after sync(1). The time the x1764 node checksums alone take on this CPU is printed
 *     too: it is work raw writing does not do. BENCH_EACH=1 prints every checkpoint.
 *  BENCH_TAIL=1 also prints the share of ops over a few latency thresholds (and how much of
 *  it is pending hits). BENCH_ONLY=latency|throughput runs one section; BENCH_ONLY=probe (or BENCH_PROBE=1) times
 *  the event loop's turns during one checkpoint with no client (how long the checkpoint's
 *  work holds the thread). BENCH_WINDOW and BENCH_SYNC_MB override the write window and the
 *  background-sync interval, BENCH_CLONE_SLICE_KB the full-copy codec's clone slice (16 KiB), and
 *  BENCH_DIR the directory (e.g. a tmpfs, to see the pipeline without the disk: there the
 *  checkpoint writes at about the raw overwrite speed).
 *
 * A client's latency runs from the moment it is ready to issue its next op (before it lets
 * the event loop turn) to the end of its unpin, so time spent waiting behind the checkpoint's
 * synchronous work on the one JavaScript thread counts, as a client thread of PerconaFT would
 * feel a checkpointer that kept the CPU from it. On NodeStorage the checkpoint copies,
 * frames and checksums nodes in slices with a yield between them (BENCH_SLICED=0 turns the
 * yield hook off, to compare with the unsliced form in the same way). Node blocks are
 * checksummed and written by NodeStorage's frame workers, off the main thread
 * (BENCH_FRAME_WORKERS, default 2; 0 turns them off; BENCH_FRAME_MODE, default worker-sync:
 * each worker writes its blocks itself; =worker hands the pwritev to libuv's threads; =libuv
 * makes it only checksum and the main thread issue the pwritev; BENCH_FRAME_NICE sets their
 * nice value, default 10).
 *
 * PAIRs are 256 KiB by default (TokuDB's nodes are 4 MiB; BENCH_NODE_KB changes it).
 * BENCH_SCALE (default 1) scales the total bytes (256 MB at 1), e.g. BENCH_SCALE=0.1 for a
 * smoke run. BENCH_JSON=<file> also writes the headline figures (throughput, the share of raw,
 * the p99s and their ratios) to that file (tools/bench/figures.ts).
 * Run after `make build`: node dist/tools/bench/checkpoint-bench.js
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import type { Pair } from '../../src/cachetable/pair.js';
import { Checkpointer } from '../../src/checkpoint/checkpointer.js';
import { CheckpointableDictionary, NODE_SLICE_BYTES, type NodeCodec } from '../../src/checkpoint/checkpointable-dictionary.js';
import { newFtHeader } from '../../src/format/ft-header.js';
import { x1764 } from '../../src/format/x1764.js';
import { LogWriter } from '../../src/log/writer.js';
import { RealClock } from '../../src/storage/clock.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import type { StorageCapabilities } from '../../src/storage/storage.js';
import type { FrameWriteMode } from '../../src/fast/frame-workers.js';
import { DEFAULT_FRAME_WORKERS, DEFAULT_FRAME_WRITE_MODE, installFastPaths, installX1764Kernel, type FastPaths } from '../../src/fast/install.js';
import { Prng } from '../../src/base/prng.js';
import { blockBuffers } from '../../src/fast/buffer-pool.js';
import { CowBytes, cowBytesCodec } from '../../src/fast/cow-bytes.js';
import { Figures } from './figures.js';

installX1764Kernel();

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const DATA = process.env['BENCH_DIR'] ?? join(ROOT, 'bench-data', 'checkpoint');
const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const NODE_BYTES = Number(process.env['BENCH_NODE_KB'] ?? '256') * 1024;
/** TokuDB's default node size (tokudb_block_size), at which throughput is also measured unless BENCH_NODE_KB is set. */
const TOKUDB_NODE_BYTES = 4096 * 1024;
const N_NODES = Math.max(16, Math.round((256e6 * SCALE) / NODE_BYTES));
const HOT = Math.max(4, Math.floor(N_NODES / 4));
const CLIENTS = 4;
/** Rounds of the latency runs (BENCH_ROUNDS, default 3). */
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? '3'));
/** The figures this run prints, for BENCH_JSON. */
const FIGURES = new Figures('checkpoint-bench');
/** A fixed-capacity sample buffer (samples past its capacity are dropped and counted). */
class Recorder {
  private readonly buf: Float64Array;
  private n = 0;
  dropped = 0;
  constructor(capacity: number) {
    this.buf = new Float64Array(capacity);
  }
  push(x: number): void {
    if (this.n < this.buf.length) this.buf[this.n++] = x;
    else this.dropped++;
  }
  values(): number[] {
    return Array.from(this.buf.subarray(0, this.n));
  }
  reset(): this {
    this.n = 0;
    this.dropped = 0;
    return this;
  }
}
const ALL_SAMPLES = new Recorder(1 << 21);
const HIT_SAMPLES = new Recorder(1 << 16);

/** Client op latencies in ms: all ops, and those during which a client resolved a pending PAIR. */
interface Lat {
  all: number[];
  hits: number[];
  /** The main thread's time runnable but not running (another thread had the CPU), ms; and the phase's length. */
  runqueueMs: number;
  wallMs: number;
  preempted: number;
}

/**
 * The main thread's total runqueue wait in ms (Linux: /proc/thread-self/schedstat's second
 * field), or NaN where it cannot be read. During the latency phases it shows how much of the
 * clients' tail is the OS giving the CPU to another thread (the frame worker, libuv's threads,
 * V8's GC helpers, the kernel's writeback) rather than work on the JavaScript thread.
 */
function runqueueWaitMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/** How often the main thread has been preempted (nonvoluntary context switches), or NaN. */
function preemptions(): number {
  try {
    return Number(/nonvoluntary_ctxt_switches:\s*(\d+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}
const QUIET_OPS = 60000;
/** BENCH_PIN=async: clients always pin with getAndPin (a promise per op), never tryGetAndPin. */
const ASYNC_PIN = process.env['BENCH_PIN'] === 'async';
const WRITE_PIN = { mode: 'write' } as const;
const SLICED = process.env['BENCH_SLICED'] !== '0';
const FRAME_WORKERS = Number(process.env['BENCH_FRAME_WORKERS'] ?? String(DEFAULT_FRAME_WORKERS));
const FRAME_MODE = (process.env['BENCH_FRAME_MODE'] ?? DEFAULT_FRAME_WRITE_MODE) as FrameWriteMode;
/** BENCH_ONLY=throughput skips the latency runs (section 1), BENCH_ONLY=latency the throughput runs. */
const ONLY_THROUGHPUT = process.env['BENCH_ONLY'] === 'throughput';
const FRAME_NICE = process.env['BENCH_FRAME_NICE'] === undefined ? undefined : Number(process.env['BENCH_FRAME_NICE']);

/** Bytes the full-copy codec copies per clone slice (BENCH_CLONE_SLICE_KB, default 16). */
const CLONE_SLICE_BYTES = Number(process.env['BENCH_CLONE_SLICE_KB'] ?? String(NODE_SLICE_BYTES / 1024)) * 1024;

/** A bench PAIR's value: plain bytes (cloned by a full copy, as PerconaFT clones a node) or copy-on-write pages. */
type BenchValue = Uint8Array | CowBytes;

/** Bytes, cloned by a full copy (in CLONE_SLICE_BYTES slices on NodeStorage). */
const copyCodec: NodeCodec<BenchValue> = {
  serialize: (v) => v as Uint8Array,
  deserialize: (b) => b.slice(),
  clone: (v) => {
    const c = blockBuffers.take(v.length);
    c.set(v as Uint8Array);
    return c;
  },
  *cloneSteps(v) {
    // From the block buffer pool: the buffer of a written clone comes back to it.
    const bytes = v as Uint8Array;
    const c = blockBuffers.take(bytes.length);
    for (let off = 0; off < bytes.length; off += CLONE_SLICE_BYTES) {
      if (off > 0) yield;
      c.set(bytes.subarray(off, Math.min(bytes.length, off + CLONE_SLICE_BYTES)), off);
    }
    return c;
  },
  sizeOf: (v) => v.length,
  // A clone is a fresh array and serialize returns it as is, so its write may take it.
  privateCloneBytes: true,
};
const noCloneCodec: NodeCodec<BenchValue> = { ...copyCodec, clone: undefined, cloneSteps: undefined, privateCloneBytes: undefined };
/** CowBytes pages (4 KiB): a clone shares the pages, a client's write copies one page. */
const cowCodec = cowBytesCodec() as NodeCodec<BenchValue>;

/** The client's modification: one byte of the PAIR's first page. */
function touch(v: BenchValue): void {
  if (v instanceof CowBytes) v.set(0, (v.get(0) + 1) & 0xff);
  else v[0] = (v[0]! + 1) & 0xff;
}

/** NodeStorage without its yield hook (BENCH_SLICED=0). */
class UnslicedNodeStorage extends NodeStorage {
  override get capabilities(): StorageCapabilities {
    return { ...super.capabilities, yieldNow: null };
  }
}

/** What installFastPaths installed on each bench storage. */
const fastPathsOf = new WeakMap<NodeStorage, FastPaths>();

/** NodeStorage with the fast paths, without its yield hook when BENCH_SLICED=0. */
function benchStorage(): NodeStorage {
  const storage = SLICED ? new NodeStorage() : new UnslicedNodeStorage();
  fastPathsOf.set(storage, installFastPaths(storage, { frameWorkers: FRAME_WORKERS, frameWriteMode: FRAME_MODE, ...(FRAME_NICE !== undefined ? { frameWorkerNice: FRAME_NICE } : {}) }));
  return storage;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

function median(xs: number[]): number {
  return pct(xs, 50);
}


/** When the running checkpoint passed its named points (performance.now()). */
const marks: Partial<Record<'afterBegin' | 'afterPendingPairsWritten' | 'afterHeadersBeforeEndCheckpoint', number>> = {};

interface Setup {
  storage: NodeStorage;
  ct: Cachetable;
  cp: Checkpointer;
  dict: CheckpointableDictionary<BenchValue>;
  nodes: bigint[];
  log: LogWriter;
}

async function setup(name: string, codec: NodeCodec<BenchValue>, nodeBytes = NODE_BYTES): Promise<Setup> {
  const nNodes = Math.max(16, Math.round((256e6 * SCALE) / nodeBytes));
  const storage = benchStorage();
  const dir = join(DATA, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'log'), { recursive: true });
  const clock = new RealClock();
  const ct = new Cachetable();
  const log = await LogWriter.open({ storage, dir: join(dir, 'log') });
  const mark = (k: keyof typeof marks) => () => {
    marks[k] = performance.now();
  };
  const hooks = { afterBegin: mark('afterBegin'), afterPendingPairsWritten: mark('afterPendingPairsWritten'), afterHeadersBeforeEndCheckpoint: mark('afterHeadersBeforeEndCheckpoint') };
  const cp = new Checkpointer({ cachetable: ct, clock, logger: log, periodSeconds: 0, hooks });
  const dict = await CheckpointableDictionary.create<BenchValue>({
    cachetable: ct,
    storage,
    ...(process.env['BENCH_SYNC_MB'] !== undefined ? { syncEveryBytes: Number(process.env['BENCH_SYNC_MB']) * 1024 * 1024 } : {}),
    path: join(dir, 'bench.tokudb'),
    filenum: 1,
    codec,
    header: newFtHeader({ now: clock.nowMicros() / 1_000_000n }),
  });
  cp.attach(dict.cachefile, dict);
  const nodes: bigint[] = [];
  for (let i = 0; i < nNodes; i++) {
    const p = await ct.put(dict.cachefile, () => dict.allocateBlocknum(), codec === cowCodec ? CowBytes.alloc(nodeBytes, i & 0xff) : new Uint8Array(nodeBytes).fill(i & 0xff), nodeBytes);
    nodes.push(p.blocknum);
    ct.unpin(p, { dirty: true });
  }
  await cp.checkpoint();
  return { storage, ct, cp, dict, nodes, log };
}

async function close(s: Setup): Promise<void> {
  await s.cp.shutdown();
  await s.dict.close();
  await s.log.close();
  await s.storage.close();
}

async function pinModifyUnpin(s: Setup, b: bigint): Promise<void> {
  const p = await s.ct.getAndPin(s.dict.cachefile, b, { mode: 'write' });
  touch(p.value);
  s.ct.unpin(p, { dirty: true });
}

async function dirtyAll(s: Setup): Promise<void> {
  for (const b of s.nodes) await pinModifyUnpin(s, b);
}

/**
 * CLIENTS client loops on random hot PAIRs until `until` resolves (or QUIET_OPS ops in all).
 * Each client lets the event loop turn before every op, as another thread would let the
 * checkpoint's I/O callbacks run; the op's latency starts before that turn.
 */
async function clientLoops(s: Setup, seed: number, until?: Promise<unknown>): Promise<Lat> {
  // Preallocated once for the whole run: growing a JS array of hundreds of thousands of
  // samples (or allocating a big buffer per phase) while measuring would itself copy
  // megabytes and wake the GC in the middle of the ops being timed.
  const all = ALL_SAMPLES.reset();
  const hits = HIT_SAMPLES.reset();
  let done = false;
  void until?.then(() => (done = true));
  const wait0 = runqueueWaitMs();
  const pre0 = preemptions();
  const wall0 = performance.now();
  // A client op: the non-blocking pin (tryGetAndPin) when it can pin without waiting, as
  // PerconaFT's client operations do, else getAndPin; then modify and unpin. Written with
  // callbacks rather than async functions so a client allocates nothing per op but its
  // setImmediate (allocation drives the young-generation GC, whose helper threads compete
  // with the checkpoint's worker for the CPUs).
  const one = (c: number): Promise<void> =>
    new Promise<void>((finish, fail) => {
      const rng = new Prng(seed * 100 + c);
      let i = 0;
      let t0 = 0;
      let resolved = 0;
      let b = 0n;
      const finishOp = (p: Pair<BenchValue>): void => {
        touch(p.value);
        s.ct.unpin(p, { dirty: true });
        const dt = performance.now() - t0;
        all.push(dt);
        if (s.ct.stats.pendingResolved.client !== resolved) hits.push(dt);
        next();
      };
      const op = (): void => {
        const p = ASYNC_PIN ? undefined : s.ct.tryGetAndPin(s.dict.cachefile, b, WRITE_PIN);
        if (p !== undefined) finishOp(p);
        else s.ct.getAndPin(s.dict.cachefile, b, WRITE_PIN).then(finishOp, fail);
      };
      const next = (): void => {
        if (until === undefined ? i++ >= QUIET_OPS / CLIENTS : done) {
          finish();
          return;
        }
        b = s.nodes[rng.int(HOT)]!;
        t0 = performance.now();
        resolved = s.ct.stats.pendingResolved.client;
        setImmediate(op);
      };
      next();
    });
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => one(c)));
  return { all: all.values(), hits: hits.values(), runqueueMs: runqueueWaitMs() - wait0, wallMs: performance.now() - wall0, preempted: preemptions() - pre0 };
}

/** Latency of client ops during one checkpoint that finds every PAIR dirty. */
async function duringCheckpoint(s: Setup, seed: number): Promise<{ lat: Lat; clientResolved: number; secs: number }> {
  await dirtyAll(s);
  const resolvedBefore = s.ct.stats.pendingResolved.client;
  const t0 = performance.now();
  const cp = s.cp.checkpoint();
  const lat = await clientLoops(s, seed, cp);
  await cp;
  return { lat, clientResolved: s.ct.stats.pendingResolved.client - resolvedBefore, secs: (performance.now() - t0) / 1000 };
}

/** Raw sequential writing of totalBytes in 1 MiB pwrites and one fsync: MB/s, and the ms of each part. */
async function rawWrite(totalBytes: number, overwrite: boolean): Promise<{ mbps: number; writeMs: number; fsyncMs: number }> {
  const storage = new NodeStorage();
  const path = join(DATA, 'raw.bin');
  if (!overwrite) rmSync(path, { force: true });
  const f = await storage.open(path, overwrite ? 'readwrite' : 'create-exclusive');
  const chunk = new Uint8Array(1 << 20).fill(7);
  const t0 = performance.now();
  for (let off = 0; off < totalBytes; off += chunk.length) await f.pwrite(chunk, off);
  const t1 = performance.now();
  await f.fsync();
  const t2 = performance.now();
  await f.close();
  if (overwrite) rmSync(path, { force: true });
  return { mbps: totalBytes / ((t2 - t0) / 1000) / 1e6, writeMs: t1 - t0, fsyncMs: t2 - t1 };
}

/** One checkpoint with every PAIR dirty and no client: MB/s of PAIR bytes written. */
interface Phases {
  /** begin_checkpoint through the pending PAIRs written (clone, checksum, pwrite). */
  pairsMs: number;
  /** BTT write, fsync, header write, fsync (and the log fsync before them). */
  headersMs: number;
  /** end_checkpoint logged and fsynced, translations rotated (the file may be truncated), unpin. */
  endMs: number;
}

/**
 * One checkpoint with every PAIR dirty and no client: MB/s of PAIR bytes written, and whether
 * it grew the file. With every PAIR rewritten, the blocks freed two checkpoints back are reused
 * by one checkpoint, and the next must grow the file again (the one between left the old
 * blocks at the end, and PerconaFT's rule truncates a tail of 32 MiB or more): so checkpoints
 * alternate between overwriting freed space and writing past the end, as a new file is written.
 */
async function checkpointMBps(s: Setup): Promise<{ mbps: number; bytes: number; phases: Phases; grew: boolean }> {
  await dirtyAll(s);
  const before = s.ct.stats.bytesWrittenForCheckpoint;
  const sizeBefore = await s.dict.file.handle.size();
  const t0 = performance.now();
  await s.cp.checkpoint();
  const t1 = performance.now();
  const secs = (t1 - t0) / 1000;
  const bytes = s.ct.stats.bytesWrittenForCheckpoint - before;
  const pairsEnd = marks.afterPendingPairsWritten ?? t0;
  const headersEnd = marks.afterHeadersBeforeEndCheckpoint ?? pairsEnd;
  // Once the end-of-checkpoint truncation (if any) has run, a file that grew is longer than before; one written into freed space is shorter.
  await s.dict.file.settle();
  const grew = (await s.dict.file.handle.size()) > sizeBefore;
  const mbps = bytes / secs / 1e6;
  if (process.env['BENCH_EACH'] === '1') console.log(`  checkpoint: ${grew ? 'grew the file' : 'into freed space'}, ${mbps.toFixed(0)} MB/s, PAIRs ${(pairsEnd - t0).toFixed(0)} ms`);
  return { mbps, bytes, phases: { pairsMs: pairsEnd - t0, headersMs: headersEnd - pairsEnd, endMs: t1 - headersEnd }, grew };
}

function checksumMs(bytes: number, nodeBytes: number): number {
  const buf = new Uint8Array(nodeBytes).fill(5);
  const n = Math.max(1, Math.round(bytes / nodeBytes));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) x1764(buf);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  console.log(
    `checkpoint-bench: ${N_NODES} PAIRs of ${NODE_BYTES / 1024} KiB (${((N_NODES * NODE_BYTES) / 1e6).toFixed(0)} MB dirty per checkpoint), ` +
      `${CLIENTS} clients on ${HOT} hot PAIRs, NodeStorage with fsync, ${SLICED ? 'sliced (yield every <= ' + NODE_SLICE_BYTES / 1024 + ' KiB checksummed)' : 'unsliced (BENCH_SLICED=0)'}, ` +
      (FRAME_WORKERS > 0 ? `${FRAME_WORKERS} frame worker(s), mode ${FRAME_MODE}, nice ${FRAME_NICE ?? 'default'}` : 'no frame workers (framing on the main thread)'),
  );

  // The main configuration (probe, throughput): copy-on-write pages; BENCH_VALUE=copy uses full-copy clones.
  const withClone = await setup('clone', process.env['BENCH_VALUE'] === 'copy' ? copyCodec : cowCodec);
  if (process.env['BENCH_PROBE'] === '1' || process.env['BENCH_ONLY'] === 'probe') {
    await dirtyAll(withClone);
    const gapRec = ALL_SAMPLES.reset();
    let done = false;
    const cp = withClone.cp.checkpoint().then(() => (done = true));
    let last = performance.now();
    while (!done) {
      await new Promise((r) => setImmediate(r));
      const now = performance.now();
      gapRec.push(now - last);
      last = now;
    }
    await cp;
    const gaps = gapRec.values();
    const sorted = [...gaps].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.floor((p / 100) * (sorted.length - 1))]!.toFixed(3);
    console.log(`probe: ${gaps.length} turns, gap p50 ${q(50)} p90 ${q(90)} p99 ${q(99)} p99.9 ${q(99.9)} max ${q(100)} ms; turns > 50us: ${gaps.filter((g) => g > 0.05).length}, total ms in them ${gaps.filter((g) => g > 0.05).reduce((a, b) => a + b, 0).toFixed(1)}`);
  }
  if (process.env['BENCH_ONLY'] === 'probe') {
    await close(withClone);
    FIGURES.writeIfRequested();
    return;
  }
  if (!ONLY_THROUGHPUT) await latencies(withClone);
  if (process.env['BENCH_ONLY'] !== 'latency') {
    await throughput(withClone, NODE_BYTES);
    // And at TokuDB's own node size, where the per-block costs weigh 16 times less.
    if (process.env['BENCH_NODE_KB'] === undefined) {
      await throughput(await setup('clone-4m', process.env['BENCH_VALUE'] === 'copy' ? copyCodec : cowCodec, TOKUDB_NODE_BYTES), TOKUDB_NODE_BYTES);
    }
  }
  else await close(withClone);
  FIGURES.writeIfRequested();
}

/**
 * ROUNDS rounds of: client ops with no checkpoint, during a cloning checkpoint, during a
 * non-cloning one (the machine is shared, so one round can be disturbed; each figure is the
 * median over the rounds). Ops are also split out by whether a client resolved a pending PAIR
 * while the op ran ("pending hits": where cloning is meant to help).
 */
async function latencies(withClone: Setup): Promise<void> {
  // withClone holds the main configuration's values; the other two kinds get their own files.
  const cow = withClone.dict.codec === cowCodec ? withClone : await setup('clone-cow', cowCodec);
  const copy = withClone.dict.codec === copyCodec ? withClone : await setup('clone-copy', copyCodec);
  const noClone = await setup('noclone', noCloneCodec);
  const quietCow: Lat[] = [];
  const quietBytes: Lat[] = [];
  const runs = { cow: [] as Lat[], copy: [] as Lat[], none: [] as Lat[] };
  const secs = { cow: [] as number[], copy: [] as number[], none: [] as number[] };
  // Each phase starts with the earlier phases' file work settled and the disk quiet.
  const settle = async (): Promise<void> => {
    for (const s of new Set([cow, copy, noClone])) await s.dict.file.settle();
    execFileSync('sync');
  };
  for (let r = 0; r < ROUNDS; r++) {
    await settle();
    quietCow.push(await clientLoops(cow, 1 + 10 * r));
    await settle();
    quietBytes.push(await clientLoops(copy, 4 + 10 * r));
    for (const [k, s, seed] of [['cow', cow, 2], ['copy', copy, 5], ['none', noClone, 3]] as const) {
      await settle();
      const c = await duringCheckpoint(s, seed + 10 * r);
      runs[k].push(c.lat);
      secs[k].push(c.secs);
    }
  }
  for (const s of new Set([cow, copy, noClone])) if (s !== withClone) await close(s);

  const med = (rounds: Lat[], p: number, hits = false): number => median(rounds.map((l) => pct(hits ? l.hits : l.all, p)));
  const row = (rounds: Lat[]): string => {
    const ops = rounds.reduce((n, l) => n + l.all.length, 0);
    const hits = rounds.reduce((n, l) => n + l.hits.length, 0);
    const max = Math.max(...rounds.flatMap((l) => l.all.reduce((m, x) => Math.max(m, x), 0)));
    const hitPart = hits > 0 ? `; pending hits p50 ${med(rounds, 50, true).toFixed(3)} ms p99 ${med(rounds, 99, true).toFixed(3)} ms (${hits})` : '';
    const waited = median(rounds.map((l) => (l.runqueueMs / l.wallMs) * 100));
    const waitPart = Number.isNaN(waited) ? '' : `; main thread waiting for a CPU ${waited.toFixed(1)}% of the time, preempted ${median(rounds.map((l) => l.preempted)).toFixed(0)} times`;
    return `p50 ${med(rounds, 50).toFixed(3)} ms  p99 ${med(rounds, 99).toFixed(3)} ms  p99.9 ${med(rounds, 99.9).toFixed(3)} ms  max ${max.toFixed(3)} ms  (${ops} ops${hitPart}${waitPart})`;
  };
  if (process.env['BENCH_TAIL'] === '1') {
    // Share of ops (all rounds) slower than a few thresholds, and of those the pending hits.
    const tail = (name: string, rounds: Lat[]): void => {
      const all = rounds.flatMap((l) => l.all);
      const hits = rounds.flatMap((l) => l.hits);
      const part = (t: number): string =>
        `>${t} ms ${((all.filter((x) => x > t).length / all.length) * 100).toFixed(2)}% (hits ${((hits.filter((x) => x > t).length / all.length) * 100).toFixed(2)}%)`;
      console.log(`tail ${name}: ${[0.02, 0.05, 0.1, 0.2, 0.5, 1].map(part).join('  ')}`);
    };
    tail('quiet (pages)', quietCow);
    tail('clone (pages)', runs.cow);
    tail('clone (copy)', runs.copy);
  }
  console.log(`latency (median of ${ROUNDS} rounds), values in copy-on-write pages (CowBytes):`);
  console.log(`  no checkpoint:                      ${row(quietCow)}`);
  console.log(`  during checkpoint (clone):          ${row(runs.cow)}; checkpoint ${median(secs.cow).toFixed(2)} s`);
  console.log(`values as plain bytes (Uint8Array):`);
  console.log(`  no checkpoint:                      ${row(quietBytes)}`);
  console.log(`  during checkpoint (clone by copy):  ${row(runs.copy)}; checkpoint ${median(secs.copy).toFixed(2)} s`);
  console.log(`  during checkpoint (no clone):       ${row(runs.none)}; checkpoint ${median(secs.none).toFixed(2)} s`);
  const ratio = (a: Lat[], b: Lat[], p: number, hits = false): string => `${(med(a, p, hits) / med(b, p, hits)).toFixed(2)}x`;
  FIGURES.add('latency.p99.quiet-pages', 'client p99, no checkpoint (pages)', 'ms', med(quietCow, 99), 'lower');
  FIGURES.add('latency.p99.clone-pages', 'client p99, cloning checkpoint (pages)', 'ms', med(runs.cow, 99), 'lower');
  FIGURES.add('latency.p99.clone-copy', 'client p99, cloning checkpoint (copy)', 'ms', med(runs.copy, 99), 'lower');
  FIGURES.add('latency.p99-ratio.pages', 'p99 ratio clone/quiet (pages)', 'x', med(runs.cow, 99) / med(quietCow, 99), 'lower');
  FIGURES.add('latency.p99-ratio.copy', 'p99 ratio clone/quiet (copy)', 'x', med(runs.copy, 99) / med(quietBytes, 99), 'lower');
  FIGURES.add('latency.p99-ratio.no-clone', 'p99 ratio no-clone/quiet', 'x', med(runs.none, 99) / med(quietBytes, 99), 'neither');
  console.log(
    `p99 ratio clone/quiet: pages ${ratio(runs.cow, quietCow, 99)}, copy ${ratio(runs.copy, quietBytes, 99)} (target <= 1.5x); ` +
      `no-clone/quiet ${ratio(runs.none, quietBytes, 99)}; no-clone/clone (pages): p99 ${ratio(runs.none, runs.cow, 99)}, p99.9 ${ratio(runs.none, runs.cow, 99.9)}, ` +
      `pending hits p50 ${ratio(runs.none, runs.cow, 50, true)} p99 ${ratio(runs.none, runs.cow, 99, true)}; ` +
      `no-clone/clone (copy): p99 ${ratio(runs.none, runs.copy, 99)}, pending hits p50 ${ratio(runs.none, runs.copy, 50, true)}`,
  );
}

/** Checkpoints with every PAIR dirty and no client running, next to raw writing. */
async function throughput(withClone: Setup, nodeBytes: number): Promise<void> {
  if (process.env['BENCH_WINDOW'] !== undefined) withClone.ct.checkpointWriteWindow = Number(process.env['BENCH_WINDOW']);
  const defaultWindow = withClone.ct.checkpointWriteWindow;
  // Each measured run starts from a quiet disk (sync(1) first, so no earlier run's writeback
  // lands on it), and raw writes alternate with the default-window checkpoints, so both see
  // the same disk conditions.
  const quietDisk = (): void => {
    execFileSync('sync');
  };
  const runsW1: number[] = [];
  const runs: Array<{ mbps: number; grew: boolean }> = [];
  const raws: Array<{ mbps: number; writeMs: number; fsyncMs: number }> = [];
  const rawOver: Array<{ mbps: number; writeMs: number; fsyncMs: number }> = [];
  const phases: Phases[] = [];
  let bytes = 0;
  withClone.ct.checkpointWriteWindow = 1;
  for (let r = 0; r < 3; r++) {
    quietDisk();
    runsW1.push((await checkpointMBps(withClone)).mbps);
  }
  withClone.ct.checkpointWriteWindow = defaultWindow;
  // Six runs: the kinds alternate (see checkpointMBps), so three of each.
  for (let r = 0; r < 6; r++) {
    quietDisk();
    const m = await checkpointMBps(withClone);
    runs.push({ mbps: m.mbps, grew: m.grew });
    phases.push(m.phases);
    bytes = m.bytes;
    quietDisk();
    raws.push(await rawWrite(bytes, false));
    quietDisk();
    rawOver.push(await rawWrite(bytes, true));
  }
  const spread = fastPathsOf.get(withClone.storage)?.frameWorkerSpread ?? { all: 0, one: 0 };
  await close(withClone);
  const all = median(runs.map((r) => r.mbps));
  const into = runs.filter((r) => !r.grew).map((r) => r.mbps);
  const grew = runs.filter((r) => r.grew).map((r) => r.mbps);
  const rawNew = median(raws.map((r) => r.mbps));
  const rawOverwrite = median(rawOver.map((r) => r.mbps));
  const faster = Math.max(rawNew, rawOverwrite);
  const pctOf = (x: number, of: number): string => `${((x / of) * 100).toFixed(0)}%`;
  const sumMs = checksumMs(bytes, nodeBytes);
  const size = `${nodeBytes / 1024} KiB PAIRs`;
  const k = `checkpoint.${nodeBytes / 1024}k`;
  FIGURES.add(`${k}.mbps.window-1`, `checkpoint throughput, window 1, ${size}`, 'MB/s', median(runsW1), 'higher');
  FIGURES.add(`${k}.mbps.window-default`, `checkpoint throughput, window ${defaultWindow}, ${size}`, 'MB/s', all, 'higher');
  FIGURES.add(`${k}.raw-new-mbps`, `raw new-file write (same run), ${size} run`, 'MB/s', rawNew, 'neither');
  FIGURES.add(`${k}.of-faster-raw`, `checkpoint / faster raw, ${size}`, '%', (all / faster) * 100, 'higher');
  console.log(
    `checkpoint write throughput, ${withClone.nodes.length} PAIRs of ${nodeBytes / 1024} KiB (${(bytes / 1e6).toFixed(0)} MB): window 1: ${median(runsW1).toFixed(1)} MB/s (median of 3); ` +
      `window ${defaultWindow}: ${all.toFixed(1)} MB/s (median of ${runs.length})`,
  );
  console.log(
    `raw sequential write (1 MiB pwrites + fsync, median of ${raws.length}, alternating with the checkpoints): new file ${rawNew.toFixed(1)} MB/s, ` +
      `overwrite ${rawOverwrite.toFixed(1)} MB/s`,
  );
  // Like for like: a checkpoint into freed space overwrites allocated blocks, as the raw
  // overwrite does; one that grows the file allocates as it goes, as writing a new file does.
  const kindLine = (label: string, xs: number[], raw: number, rawLabel: string): string =>
    xs.length === 0 ? `  ${label}: none ran` : `  ${label}: ${median(xs).toFixed(1)} MB/s (median of ${xs.length}), ${pctOf(median(xs), raw)} of raw ${rawLabel}`;
  console.log(`checkpoint / raw of the same kind of write (target >= 70%):`);
  console.log(kindLine('checkpoints into freed space', into, rawOverwrite, 'overwrite'));
  console.log(kindLine('checkpoints that grow the file', grew, rawNew, 'new file'));
  console.log(`checkpoint (all, window ${defaultWindow}) / the faster raw ${faster.toFixed(1)} MB/s (the strictest reading): ${pctOf(all, faster)}`);
  const ms = (xs: number[]): string => `${median(xs).toFixed(0)} ms`;
  console.log(
    `  where the time goes (medians): checkpoint, window ${defaultWindow}: PAIRs ${ms(phases.map((p) => p.pairsMs))}, ` +
      `BTT+header+fsyncs ${ms(phases.map((p) => p.headersMs))}, end+rotate(+truncate) ${ms(phases.map((p) => p.endMs))}; ` +
      `raw new file: pwrites ${ms(raws.map((r) => r.writeMs))}, fsync ${ms(raws.map((r) => r.fsyncMs))}; ` +
      `overwrite: pwrites ${ms(rawOver.map((r) => r.writeMs))}, fsync ${ms(rawOver.map((r) => r.fsyncMs))}`,
  );
  if (spread.all + spread.one > 0) {
    console.log(`  frame worker pool: writes spread over all ${FRAME_WORKERS} workers ${pctOf(spread.all, spread.all + spread.one)} of the time (one while the main thread was busy)`);
  }
  console.log(
    `x1764 node checksums alone: ${sumMs.toFixed(0)} ms for ${(bytes / 1e6).toFixed(0)} MB (${(bytes / 1e3 / sumMs).toFixed(0)} MB/s), ` +
      `i.e. ${((sumMs / ((bytes / 1e6 / faster) * 1000)) * 100).toFixed(0)}% of the raw write time`,
  );
}

await main();
