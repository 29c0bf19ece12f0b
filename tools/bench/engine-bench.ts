/**
 * Benchmark of the embeddable engine against classic-level (LevelDB) on real files under
 * bench-data/engine (git-ignored). Not a test: it prints figures and asserts nothing.
 *
 *  1. Puts (one key per call, sequential, no fsync: tokusim durability 'none' vs classic-level
 *     sync:false), gets (random existing keys, sequential), and durable commits (tokusim
 *     'sync' with group commit vs classic-level sync:true) from 1, 8 and 32 concurrent
 *     writers, one key per commit. ops/s side by side with the ratio tokusim / classic-level.
 *     The durable commits run interleaved over BENCH_ROUNDS rounds (at least 5) with the same
 *     keys and values, the engine that goes first alternating from round to round (tokusim
 *     first in even rounds), and print the median with the min-max of each engine, the ratio
 *     of the medians and the median of the per-round ratios (each round's two runs are
 *     neighbours in time, so that ratio carries less of the disk's drift).
 *     Targets (issue 5): durable commits/s >= classic-level; puts and gets within 3x.
 *  2. Recovery time as the log since the last checkpoint grows (several tail sizes), and two
 *     runs with the same tail but a different total log (a long prefix before the checkpoint in
 *     the same, untrimmed log file): recovery must depend on the tail only. Each environment is
 *     left by abandon() (as a killed process leaves it) and timed while it recovers; then,
 *     recovered and closed, it is opened once more, cleanly, as a baseline from the same
 *     process and disk (the ratio recovery / clean open carries less of the machine's noise).
 *  3. Snapshot reads against read-committed reads in the same environment: random point gets
 *     and a full scan by a snapshot transaction (whose snapshot predates an overwrite of a
 *     tenth of the keys, so those are read from the version store) and by a read-committed
 *     one (its scan without a snapshot), interleaved over BENCH_ROUNDS rounds (the order
 *     alternating per round); median with min-max of each and the ratio snapshot /
 *     read-committed of the medians.
 *
 * BENCH_SCALE (default 1) scales the operation counts. BENCH_ONLY=durable runs just the durable
 * commits (section 1's last rows), for quick comparisons; BENCH_ONLY=recovery just section 2,
 * BENCH_ONLY=snapshot just section 3.
 * BENCH_JSON=<file> also writes the figures to that file (tools/bench/figures.ts).
 * BENCH_DSYNC=0 opens the tokusim
 * environments' log without O_DSYNC (write + fdatasync per group commit) for comparison. Run after `make build`:
 * node dist/tools/bench/engine-bench.js
 */
import { mkdirSync, rmSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ClassicLevel } from 'classic-level';
import { Env } from '../../src/node/env.js';
import { defaultNodeStorage, NodeStorage } from '../../src/storage/node-storage.js';
import { installFastPaths } from '../../src/fast/install.js';
import { useFastChecksums, useFastPathsByDefault } from '../../src/node/fast-defaults.js';

// The fast paths, as the Node entry gives them to every default NodeStorage (src/node/).
useFastPathsByDefault();
useFastChecksums();
import { Prng } from '../../src/base/prng.js';
import type { OpenMode, StorageFile } from '../../src/storage/storage.js';
import { Figures } from './figures.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const DATA = join(ROOT, 'bench-data', 'engine');
const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const N_PUTS = Math.max(1000, Math.round(20000 * SCALE));
const N_GETS = N_PUTS;
const VALUE = new Uint8Array(100).fill(0x61);
const WRITERS = [1, 8, 32];
const DURABLE_PER_RUN = Math.max(320, Math.round(3200 * SCALE));
const ONLY_DURABLE = process.env['BENCH_ONLY'] === 'durable';
/** Rounds of the interleaved durable-commit runs (each engine once per round); at least 5. */
const ROUNDS = Math.max(5, Number(process.env['BENCH_ROUNDS'] ?? '5'));
const ONLY_RECOVERY = process.env['BENCH_ONLY'] === 'recovery';
const ONLY_SNAPSHOT = process.env['BENCH_ONLY'] === 'snapshot';
const N_SNAPSHOT = Math.max(2000, Math.round(20000 * SCALE));
/** The figures this run prints, for BENCH_JSON. */
const FIGURES = new Figures('engine-bench');
/** Durable commits each engine does in a throwaway directory before the timed runs (JIT warm-up). */
const WARMUP_COMMITS = Number(process.env['BENCH_WARMUP'] ?? '3000');

const enc = new TextEncoder();
const keyOf = (i: number): Uint8Array => enc.encode(`key${String(i).padStart(10, '0')}`);

function fresh(name: string): string {
  const dir = join(DATA, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(DATA, { recursive: true });
  return dir;
}

async function timed(ops: number, body: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await body();
  return ops / ((performance.now() - t0) / 1000);
}

/** NodeStorage that ignores the dsync open option (BENCH_DSYNC=0): the log writer then fsyncs. */
class NoDsyncStorage extends NodeStorage {
  override open(path: string, mode: OpenMode): Promise<StorageFile> {
    return super.open(path, mode);
  }
}
const USE_DSYNC = process.env['BENCH_DSYNC'] !== '0';

function withFastPaths<S extends NodeStorage>(storage: S): S {
  installFastPaths(storage);
  return storage;
}

function openEnv(dir: string, durability: 'sync' | 'none', lgMax?: number): Promise<Env> {
  return Env.open(dir, { storage: USE_DSYNC ? defaultNodeStorage() : withFastPaths(new NoDsyncStorage()), durability, checkpointPeriodMs: 0, owner: 'engine-bench', cacheSize: 512 << 20, ...(lgMax !== undefined ? { lgMax } : {}) });
}

/** Shuffled key order (deterministic). */
function order(n: number, seed: number): number[] {
  const rng = new Prng(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

async function concurrent(writers: number, perWriter: number, one: (w: number, i: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; i < perWriter; i++) await one(w, i);
  }));
}

interface Row {
  /** Figure key prefix (BENCH_JSON). */
  key: string;
  what: string;
  ours: number;
  theirs: number;
  target: string;
  ok: (ratio: number) => boolean;
}


async function putsAndGets(): Promise<Row[]> {
  const rows: Row[] = [];
  const keys = order(N_PUTS, 7);

  // ---- tokusim puts and gets
  const env = await openEnv(fresh('tokusim-puts'), 'none');
  const d = await env.createDictionary('bench');
  const oursPut = await timed(N_PUTS, async () => {
    for (const i of keys) await env.put(d, keyOf(i), VALUE);
  });
  const getOrder = order(N_GETS, 9);
  const oursGet = await timed(N_GETS, async () => {
    for (const i of getOrder) if ((await env.get(d, keyOf(i))) === undefined) throw new Error(`missing key ${i}`);
  });
  await env.close();

  // ---- classic-level puts and gets
  const cl = new ClassicLevel<Uint8Array, Uint8Array>(fresh('classic-puts'), { keyEncoding: 'view', valueEncoding: 'view' });
  await cl.open();
  const theirPut = await timed(N_PUTS, async () => {
    for (const i of keys) await cl.put(keyOf(i), VALUE, { sync: false });
  });
  const theirGet = await timed(N_GETS, async () => {
    for (const i of getOrder) if ((await cl.get(keyOf(i))) === undefined) throw new Error(`missing key ${i}`);
  });
  await cl.close();
  rows.push({ key: 'puts', what: `puts (${N_PUTS}, no fsync)`, ours: oursPut, theirs: theirPut, target: '>= 0.33', ok: (r) => r >= 1 / 3 });
  rows.push({ key: 'gets', what: `gets (${N_GETS}, random)`, ours: oursGet, theirs: theirGet, target: '>= 0.33', ok: (r) => r >= 1 / 3 });
  return rows;
}

/**
 * Steady-state figures: both engines first do WARMUP_COMMITS durable commits (1 writer, then
 * 8) in a throwaway directory, so neither is timed while its code is still being compiled
 * (tokusim's commit path is JIT-compiled JavaScript; cold, the first few thousand commits run
 * up to ~30% slower). BENCH_WARMUP=0 measures cold starts.
 */
async function warmUp(): Promise<void> {
  if (WARMUP_COMMITS <= 0) return;
  const half = Math.max(1, Math.round(WARMUP_COMMITS / 2));
  const e = await openEnv(fresh('tokusim-warmup'), 'sync');
  const dd = await e.createDictionary('bench');
  await concurrent(1, half, (w, i) => e.put(dd, keyOf(w * 1_000_000 + i), VALUE));
  await concurrent(8, Math.ceil(half / 8), (w, i) => e.put(dd, keyOf(w * 1_000_000 + i), VALUE));
  await e.close();
  const c = new ClassicLevel<Uint8Array, Uint8Array>(fresh('classic-warmup'), { keyEncoding: 'view', valueEncoding: 'view' });
  await c.open();
  await concurrent(1, half, (w, i) => c.put(keyOf(w * 1_000_000 + i), VALUE, { sync: true }));
  await concurrent(8, Math.ceil(half / 8), (w, i) => c.put(keyOf(w * 1_000_000 + i), VALUE, { sync: true }));
  await c.close();
}

/** One engine's durable-commit throughput over the rounds: median with the range. */
interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

interface DurableRow {
  writers: number;
  total: number;
  ours: Spread;
  theirs: Spread;
  /** tokusim / classic-level of each round's pair of runs. */
  paired: Spread;
}

async function tokusimDurable(dir: string, writers: number, per: number): Promise<number> {
  const e = await openEnv(fresh(dir), 'sync');
  const dd = await e.createDictionary('bench');
  const ops = await timed(per * writers, () => concurrent(writers, per, (w, i) => e.put(dd, keyOf(w * 1_000_000 + i), VALUE)));
  await e.close();
  return ops;
}

async function classicDurable(dir: string, writers: number, per: number): Promise<number> {
  const c = new ClassicLevel<Uint8Array, Uint8Array>(fresh(dir), { keyEncoding: 'view', valueEncoding: 'view' });
  await c.open();
  const ops = await timed(per * writers, () => concurrent(writers, per, (w, i) => c.put(keyOf(w * 1_000_000 + i), VALUE, { sync: true })));
  await c.close();
  return ops;
}

/**
 * The two engines alternate ROUNDS times per writer count, each run in a fresh directory with
 * the same keys and values, and which goes first alternates too (A B, B A, ...): the disk's
 * slow and fast spells then fall on both, neither engine always runs right after the other's
 * writes, and the medians compare like with like.
 */
async function durableCommits(): Promise<DurableRow[]> {
  const rows: DurableRow[] = [];
  await warmUp();
  for (const writers of WRITERS) {
    const per = Math.max(1, Math.round(DURABLE_PER_RUN / writers));
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        ours.push(await tokusimDurable(`tokusim-sync-${writers}`, writers, per));
        theirs.push(await classicDurable(`classic-sync-${writers}`, writers, per));
      } else {
        theirs.push(await classicDurable(`classic-sync-${writers}`, writers, per));
        ours.push(await tokusimDurable(`tokusim-sync-${writers}`, writers, per));
      }
    }
    rows.push({ writers, total: per * writers, ours: spread(ours), theirs: spread(theirs), paired: spread(ours.map((x, i) => x / theirs[i]!)) });
  }
  return rows;
}

function dirBytes(dir: string, suffix: string): number {
  return readdirSync(dir).filter((f) => f.endsWith(suffix)).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** Crashed environments stay referenced so their open file handles are not closed by GC. */
const abandoned: Env[] = [];

/**
 * Write prefix rows, checkpoint, write tail rows (txns of 100), flush the log, crash; time the
 * recovering open; close it and time a clean open of the same environment.
 */
async function recoveryRun(name: string, prefix: number, tail: number): Promise<{ ms: number; cleanMs: number; logBytes: number; replayed: number }> {
  const dir = fresh(name);
  const env = await openEnv(dir, 'none', 1 << 30);
  const d = await env.createDictionary('bench');
  const write = async (from: number, n: number): Promise<void> => {
    for (let i = 0; i < n; i += 100) {
      const t = env.begin();
      for (let j = i; j < Math.min(n, i + 100); j++) await t.put(d, keyOf(from + j), VALUE);
      await t.commit();
    }
  };
  await write(0, prefix);
  await env.checkpoint();
  await write(prefix, tail);
  await env.logWriter!.fsync();
  env.abandon();
  abandoned.push(env);
  const logBytes = dirBytes(dir, '.tokulog29');
  const t0 = performance.now();
  const env2 = await openEnv(dir, 'none', 1 << 30);
  const ms = performance.now() - t0;
  const replayed = env2.recoveryReport?.entriesReplayed ?? 0;
  const d2 = await env2.openDictionary('bench');
  if ((await env2.get(d2, keyOf(prefix + tail - 1))) === undefined) throw new Error('recovery lost the last tail row');
  await env2.close();
  const t1 = performance.now();
  const env3 = await openEnv(dir, 'none', 1 << 30);
  const cleanMs = performance.now() - t1;
  await env3.close();
  return { ms, cleanMs, logBytes, replayed };
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1)).padStart(10);

async function main(): Promise<void> {
  console.log(`engine-bench: tokusim Env vs classic-level, NodeStorage in ${DATA} (BENCH_SCALE=${SCALE}, log O_DSYNC ${USE_DSYNC ? 'on' : 'off'}, warm-up ${WARMUP_COMMITS} durable commits each)`);
  if (ONLY_SNAPSHOT) {
    await snapshotFigures();
    FIGURES.writeIfRequested();
    return;
  }
  if (!ONLY_RECOVERY) {
    if (!ONLY_DURABLE) printRows(await putsAndGets());
    printDurable(await durableCommits());
  }
  if (!ONLY_DURABLE) await recoveryFigures();
  if (!ONLY_DURABLE && !ONLY_RECOVERY) await snapshotFigures();
  FIGURES.writeIfRequested();
}

/** Section 3: snapshot reads against read-committed reads, interleaved in one environment. */
async function snapshotFigures(): Promise<void> {
  const env = await openEnv(fresh('tokusim-snapshot'), 'none');
  const d = await env.createDictionary('bench');
  for (let i = 0; i < N_SNAPSHOT; i += 1000) {
    await env.writeBatch(Array.from({ length: Math.min(1000, N_SNAPSHOT - i) }, (_, j) => ({ dict: d, op: 'insert' as const, key: keyOf(i + j), value: VALUE })));
  }
  const snap = env.begin({ isolation: 'snapshot' });
  const rc = env.begin({ isolation: 'read-committed' });
  // A tenth of the keys overwritten after the snapshot: those it reads from the version store.
  const changed = new Uint8Array(100).fill(0x62);
  for (const i of order(N_SNAPSHOT, 11).slice(0, Math.round(N_SNAPSHOT / 10))) await env.put(d, keyOf(i), changed);
  const getOrder = order(N_SNAPSHOT, 13);
  const gets = async (t: typeof snap): Promise<number> =>
    timed(N_SNAPSHOT, async () => {
      for (const i of getOrder) if ((await t.get(d, keyOf(i))) === undefined) throw new Error(`missing key ${i}`);
    });
  const scan = async (t: typeof snap, opts: { snapshot?: boolean }): Promise<number> =>
    timed(N_SNAPSHOT, async () => {
      let n = 0;
      for await (const _ of t.cursor(d, {}, opts)) n++;
      if (n !== N_SNAPSHOT) throw new Error(`scan returned ${n} of ${N_SNAPSHOT} rows`);
    });
  const figures = { getRc: [] as number[], getSnap: [] as number[], scanRc: [] as number[], scanSnap: [] as number[] };
  await gets(snap); // warm-up, not counted
  await scan(snap, {});
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so a drift of the machine's load falls on both.
    if (round % 2 === 0) {
      figures.getRc.push(await gets(rc));
      figures.getSnap.push(await gets(snap));
      figures.scanRc.push(await scan(rc, { snapshot: false }));
      figures.scanSnap.push(await scan(snap, {}));
    } else {
      figures.getSnap.push(await gets(snap));
      figures.getRc.push(await gets(rc));
      figures.scanSnap.push(await scan(snap, {}));
      figures.scanRc.push(await scan(rc, { snapshot: false }));
    }
  }
  const kept = env.status().mvcc.versionsKept;
  await snap.commit();
  await rc.commit();
  await env.close();
  const range = (s: Spread): string => `${s.min.toFixed(0)}-${s.max.toFixed(0)}`.padStart(16);
  console.log(`
snapshot vs read-committed reads (${N_SNAPSHOT} rows, ${kept} versions kept for the snapshot), interleaved over ${ROUNDS} rounds`);
  console.log(`${'workload'.padEnd(14)}${'read-committed/s'.padStart(17)}${'min-max'.padStart(16)}${'snapshot/s'.padStart(12)}${'min-max'.padStart(16)}${'ratio'.padStart(8)}`);
  for (const [what, key, a, b] of [
    ['random gets', 'gets', figures.getRc, figures.getSnap],
    ['full scan', 'scan', figures.scanRc, figures.scanSnap],
  ] as const) {
    const rcS = spread(a);
    const snS = spread(b);
    const ratio = snS.median / rcS.median;
    console.log(`${what.padEnd(14)}${rcS.median.toFixed(0).padStart(17)}${range(rcS)}${snS.median.toFixed(0).padStart(12)}${range(snS)}${ratio.toFixed(2).padStart(8)}`);
    FIGURES.add(`snapshot.${key}.per-s`, `${what} under snapshot isolation (rows/s), median of ${ROUNDS}`, 'ops/s', snS.median, 'higher');
    FIGURES.add(`snapshot.${key}.rc.per-s`, `${what} under read-committed (rows/s), median of ${ROUNDS}`, 'ops/s', rcS.median, 'neither');
    FIGURES.add(`snapshot.${key}.vs-read-committed`, `${what}, snapshot / read-committed (medians)`, 'x', ratio, 'higher');
  }
}

function printRows(rows: Row[]): void {
  console.log(`\n${'workload'.padEnd(36)}${'tokusim/s'.padStart(10)}${'classic/s'.padStart(10)}${'ratio'.padStart(8)}  target`);
  for (const r of rows) {
    const ratio = r.ours / r.theirs;
    console.log(`${r.what.padEnd(36)}${fmt(r.ours)}${fmt(r.theirs)}${ratio.toFixed(2).padStart(8)}  ${r.target} ${r.ok(ratio) ? 'met' : 'MISSED'}`);
    FIGURES.add(`${r.key}.per-s`, `${r.what}, tokusim`, 'ops/s', r.ours, 'higher');
    FIGURES.add(`${r.key}.vs-classic`, `${r.what}, tokusim / classic-level`, 'x', ratio, 'higher');
  }
}

function printDurable(rows: DurableRow[]): void {
  const range = (s: Spread): string => `${s.min.toFixed(0)}-${s.max.toFixed(0)}`.padStart(14);
  console.log(`\ndurable commits, one key per commit; tokusim and classic-level (sync: true) interleaved over ${ROUNDS} rounds, first engine alternating`);
  console.log('ratio: of the medians; per round: median (min-max) of each round\'s tokusim / classic-level');
  console.log(`${'writers'.padEnd(8)}${'commits'.padStart(8)}${'tokusim/s'.padStart(11)}${'min-max'.padStart(14)}${'classic/s'.padStart(11)}${'min-max'.padStart(14)}${'ratio'.padStart(8)}${'per round'.padStart(20)}  target`);
  for (const r of rows) {
    const ratio = r.ours.median / r.theirs.median;
    console.log(
      `${String(r.writers).padEnd(8)}${String(r.total).padStart(8)}${r.ours.median.toFixed(0).padStart(11)}${range(r.ours)}` +
        `${r.theirs.median.toFixed(0).padStart(11)}${range(r.theirs)}${ratio.toFixed(2).padStart(8)}` +
        `${`${r.paired.median.toFixed(2)} (${r.paired.min.toFixed(2)}-${r.paired.max.toFixed(2)})`.padStart(20)}  >= 1 (medians) ${ratio >= 1 ? 'met' : 'MISSED'}`,
    );
    const key = `durable.${r.writers}w`;
    const what = `durable commits, ${r.writers} writer${r.writers > 1 ? 's' : ''} (${r.total}), median of ${ROUNDS}`;
    FIGURES.add(`${key}.per-s`, `${what}, tokusim`, 'ops/s', r.ours.median, 'higher');
    FIGURES.add(`${key}.vs-classic`, `${what}, tokusim / classic-level`, 'x', ratio, 'higher');
    FIGURES.add(`${key}.per-s.min`, `${what}, tokusim, slowest round`, 'ops/s', r.ours.min, 'neither');
    FIGURES.add(`${key}.per-s.max`, `${what}, tokusim, fastest round`, 'ops/s', r.ours.max, 'neither');
    FIGURES.add(`${key}.classic.per-s`, `${what}, classic-level`, 'ops/s', r.theirs.median, 'neither');
    FIGURES.add(`${key}.vs-classic.paired`, `${what}, median of the rounds' tokusim / classic-level`, 'x', r.paired.median, 'higher');
  }
}

async function recoveryFigures(): Promise<void> {
  console.log('\nrecovery time vs the log since the last checkpoint (rows in txns of 100, one log file)');
  console.log(`${'prefix rows'.padStart(12)}${'tail rows'.padStart(12)}${'log MB'.padStart(10)}${'replayed'.padStart(10)}${'ms'.padStart(10)}${'clean open ms'.padStart(15)}${'x clean'.padStart(9)}`);
  const tailSizes = [1, 4, 16].map((k) => Math.round(k * 2000 * SCALE));
  await recoveryRun('recovery-warmup', 0, tailSizes[0]!); // JIT warm-up, not printed
  const runs: Array<[number, number]> = [...tailSizes.map((t): [number, number] => [0, t]), [Math.round(64000 * SCALE), tailSizes[1]!]];
  const msByRun: number[] = [];
  for (const [prefix, tail] of runs) {
    const r = await recoveryRun(`recovery-${prefix}-${tail}`, prefix, tail);
    msByRun.push(r.ms);
    console.log(
      `${String(prefix).padStart(12)}${String(tail).padStart(12)}${(r.logBytes / 1e6).toFixed(2).padStart(10)}${String(r.replayed).padStart(10)}${r.ms.toFixed(0).padStart(10)}` +
        `${r.cleanMs.toFixed(0).padStart(15)}${(r.ms / r.cleanMs).toFixed(2).padStart(9)}`,
    );
    const what = `recovery, ${tail}-row tail${prefix > 0 ? ` after a ${prefix}-row prefix` : ''}`;
    const k = `recovery.tail-${tail}.prefix-${prefix}`;
    FIGURES.add(`${k}.ms`, what, 'ms', r.ms, 'lower');
    // The longest tail's ratio: there recovery's own work outweighs what every open does.
    if (prefix === 0 && tail === tailSizes[tailSizes.length - 1]) FIGURES.add(`${k}.x-clean-open`, `${what} / clean open`, 'x', r.ms / r.cleanMs, 'lower');
  }
  // Same tail, long prefix against no prefix: near 1 when recovery depends on the tail only.
  FIGURES.add('recovery.prefix-over-no-prefix', 'recovery, long prefix / no prefix (same tail)', 'x', msByRun[3]! / msByRun[1]!, 'neither');
  console.log('(the last run has the same tail as the second one and a much longer total log)');
}

await main();
