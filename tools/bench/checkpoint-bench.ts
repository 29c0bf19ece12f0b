/**
 * Benchmark of the sharp checkpointer on NodeStorage (real files, real fsync) under
 * bench-data/checkpoint (git-ignored). Not a test: it prints figures and asserts nothing.
 *
 *  1. Client latency (p50, p99, max) of pin-modify-unpin on hot PAIRs with no checkpoint
 *     running, during a checkpoint whose dictionary clones, and during one that does not clone,
 *     with many dirty PAIRs to write; printed with the ratios against "no checkpoint"
 *     (target: cloning p99 within 1.5x, and clearly better than without cloning).
 *  2. Checkpoint write throughput (MB/s) next to the raw sequential write speed of the same
 *     disk measured in the same run (target: at least 70% of raw).
 *
 * BENCH_SCALE (default 1) scales the number of PAIRs, e.g. BENCH_SCALE=0.05 for a smoke run.
 * Run after `make build`: node dist/tools/bench/checkpoint-bench.js
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { Checkpointer } from '../../src/checkpoint/checkpointer.js';
import { CheckpointableDictionary, type NodeCodec } from '../../src/checkpoint/checkpointable-dictionary.js';
import { newFtHeader } from '../../src/format/ft-header.js';
import { LogWriter } from '../../src/log/writer.js';
import { RealClock } from '../../src/storage/clock.js';
import { NodeStorage } from '../../src/storage/node-storage.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const DATA = join(ROOT, 'bench-data', 'checkpoint');
const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const NODE_BYTES = 64 * 1024;
const N_NODES = Math.max(16, Math.round(2000 * SCALE));
const HOT = 32;
const QUIET_OPS = 5000;

const cloneCodec: NodeCodec<Uint8Array> = {
  serialize: (v) => v,
  deserialize: (b) => b.slice(),
  clone: (v) => v.slice(),
  sizeOf: (v) => v.length,
};
const noCloneCodec: NodeCodec<Uint8Array> = { ...cloneCodec, clone: undefined };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

function fmt(xs: number[]): string {
  return `p50 ${pct(xs, 50).toFixed(3)} ms  p99 ${pct(xs, 99).toFixed(3)} ms  max ${Math.max(...xs).toFixed(3)} ms  (${xs.length} ops)`;
}

interface Setup {
  ct: Cachetable;
  cp: Checkpointer;
  dict: CheckpointableDictionary<Uint8Array>;
  nodes: bigint[];
  log: LogWriter;
}

async function setup(name: string, codec: NodeCodec<Uint8Array>): Promise<Setup> {
  const storage = new NodeStorage();
  const dir = join(DATA, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'log'), { recursive: true });
  const clock = new RealClock();
  const ct = new Cachetable();
  const log = await LogWriter.open({ storage, dir: join(dir, 'log') });
  const cp = new Checkpointer({ cachetable: ct, clock, logger: log, periodSeconds: 0 });
  const dict = await CheckpointableDictionary.create<Uint8Array>({
    cachetable: ct,
    storage,
    path: join(dir, 'bench.tokudb'),
    filenum: 1,
    codec,
    header: newFtHeader({ now: clock.nowMicros() / 1_000_000n }),
  });
  cp.attach(dict.cachefile, dict);
  const nodes: bigint[] = [];
  for (let i = 0; i < N_NODES; i++) {
    const p = await ct.put(dict.cachefile, () => dict.allocateBlocknum(), new Uint8Array(NODE_BYTES).fill(i & 0xff), NODE_BYTES);
    nodes.push(p.blocknum);
    ct.unpin(p, { dirty: true });
  }
  await cp.checkpoint();
  return { ct, cp, dict, nodes, log };
}

async function pinModifyUnpin(s: Setup, b: bigint): Promise<number> {
  const t0 = performance.now();
  const p = await s.ct.getAndPin(s.dict.cachefile, b, { mode: 'write' });
  p.value[0] = (p.value[0]! + 1) & 0xff;
  s.ct.unpin(p, { dirty: true });
  return performance.now() - t0;
}

async function dirtyAll(s: Setup): Promise<void> {
  for (const b of s.nodes) await pinModifyUnpin(s, b);
}

/** Client loop on the hot PAIRs until `until` resolves (or for QUIET_OPS ops). */
async function clientLoop(s: Setup, until?: Promise<unknown>): Promise<number[]> {
  const lat: number[] = [];
  let done = until === undefined;
  void until?.then(() => (done = true));
  for (let i = 0; until === undefined ? i < QUIET_OPS : !done; i++) {
    lat.push(await pinModifyUnpin(s, s.nodes[i % HOT]!));
    // Let the checkpoint's I/O callbacks run between client operations, as another thread would.
    if (i % 4 === 3) await new Promise((r) => setImmediate(r));
  }
  return lat;
}

async function rawWriteMBps(totalBytes: number): Promise<number> {
  const storage = new NodeStorage();
  const path = join(DATA, 'raw.bin');
  rmSync(path, { force: true });
  const f = await storage.open(path, 'create-exclusive');
  const chunk = new Uint8Array(1 << 20).fill(7);
  const t0 = performance.now();
  for (let off = 0; off < totalBytes; off += chunk.length) await f.pwrite(chunk, off);
  await f.fsync();
  const secs = (performance.now() - t0) / 1000;
  await f.close();
  rmSync(path, { force: true });
  return totalBytes / secs / 1e6;
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  console.log(`checkpoint-bench: ${N_NODES} PAIRs of ${NODE_BYTES / 1024} KiB (${((N_NODES * NODE_BYTES) / 1e6).toFixed(0)} MB dirty per checkpoint), ${HOT} hot PAIRs`);

  const withClone = await setup('clone', cloneCodec);
  const quiet = await clientLoop(withClone);
  await dirtyAll(withClone);
  const cpClone = withClone.cp.checkpoint();
  const during = await clientLoop(withClone, cpClone);
  await cpClone;

  const noClone = await setup('noclone', noCloneCodec);
  await dirtyAll(noClone);
  const cpNo = noClone.cp.checkpoint();
  const duringNo = await clientLoop(noClone, cpNo);
  await cpNo;

  console.log(`latency, no checkpoint:            ${fmt(quiet)}`);
  console.log(`latency, during checkpoint (clone): ${fmt(during)}`);
  console.log(`latency, during checkpoint (none):  ${fmt(duringNo)}`);
  const q99 = pct(quiet, 99);
  console.log(`p99 ratio clone/quiet ${(pct(during, 99) / q99).toFixed(2)}x (target <= 1.5x); no-clone/quiet ${(pct(duringNo, 99) / q99).toFixed(2)}x; no-clone/clone ${(pct(duringNo, 99) / pct(during, 99)).toFixed(2)}x`);

  // Throughput: a checkpoint with every PAIR dirty and no client running.
  await dirtyAll(withClone);
  const before = withClone.ct.stats.bytesWrittenForCheckpoint;
  const t0 = performance.now();
  await withClone.cp.checkpoint();
  const secs = (performance.now() - t0) / 1000;
  const bytes = withClone.ct.stats.bytesWrittenForCheckpoint - before;
  const cpMBps = bytes / secs / 1e6;
  const raw = await rawWriteMBps(bytes);
  console.log(`checkpoint write throughput ${cpMBps.toFixed(1)} MB/s (${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s); raw sequential write ${raw.toFixed(1)} MB/s; ratio ${((cpMBps / raw) * 100).toFixed(0)}% (target >= 70%)`);

  for (const s of [withClone, noClone]) {
    await s.cp.shutdown();
    await s.log.close();
  }
}

await main();
