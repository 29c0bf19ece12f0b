/**
 * Peak memory of a full transaction-cursor scan (txn.cursor) over 10k, 100k and 1M rows, each
 * scan in a fresh process that only opens the environment and scans, printed as peak RSS and
 * as a ratio against the 10k-row scan: a streaming cursor keeps the ratio near 1. The same is
 * printed for txn.range(), which returns the whole range as an array, for contrast. Not a test:
 * it prints figures and asserts nothing.
 *
 * The environments are built under bench-data/cursor (git-ignored) by a separate process, once:
 * later runs reuse them (delete the folder to rebuild). The
 * scanning process bounds its cachetable (CACHE_BYTES, smaller than the 10k-row tree) because
 * the cachetable keeps every node it reads up to its limit (unlimited by default): with the
 * limit reached in every scan, what differs between sizes is what the scan itself holds. BENCH_SCALE (default 1) scales the row counts,
 * BENCH_CACHE_BYTES (default 1 MiB) sets that limit; 0 leaves the cachetable
 * unlimited, Env's default. Run after `make build`:
 * node dist/tools/bench/cursor-bench.js
 *
 * To compare two builds: BENCH_BASE=<the other build's dist/tools/bench/cursor-bench.js>
 * runs only txn.cursor scans, BENCH_ROUNDS rounds (default 3) of every size through both
 * builds in turn (which goes first alternates by round), on this build's environments, and
 * prints per build the median and min-max of peak RSS and rows/s, each build's 1M-vs-10k
 * ratio of the medians, and this build's rows/s over the other's (median of the per-round
 * ratios). The other build's scan child must take the same arguments (`scan DIR N cursor`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Env } from '../../src/node/env.js';
import { useFastChecksums, useFastPathsByDefault } from '../../src/node/fast-defaults.js';

// The fast paths, as the Node entry gives them to every default NodeStorage (src/node/).
useFastPathsByDefault();
useFastChecksums();

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const DATA = join(ROOT, 'bench-data', 'cursor');
const SCALE = Number(process.env['BENCH_SCALE'] ?? '1');
const SIZES = [10_000, 100_000, 1_000_000].map((n) => Math.max(100, Math.round(n * SCALE)));
const CACHE_BYTES = Number(process.env['BENCH_CACHE_BYTES'] ?? String(1024 * 1024));
const BATCH = 1000;
const VALUE = new Uint8Array(100).fill(0x61);

function keyOf(i: number): Uint8Array {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setUint32(4, i);
  return k;
}

/** Child mode `build DIR N`: an environment holding N rows in dictionary `t`, closed cleanly. */
async function build(dir: string, n: number): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  // A long lease: the build is a bench fixture on a shared machine, where a stalled event loop
  // must not fence it halfway through the million rows.
  const env = await Env.open(dir, { durability: 'none', checkpointPeriodMs: 0, leaseMs: 600_000 });
  const d = await env.createDictionary('t');
  for (let i = 0; i < n; i += BATCH) {
    const ops = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) ops.push({ dict: d, op: 'insert' as const, key: keyOf(j), value: VALUE });
    await env.writeBatch(ops);
  }
  await env.close();
  writeFileSync(join(dir, BUILT), `${n}\n`);
}

/** Written last by a build, so a build cut short is redone rather than scanned. */
const BUILT = 'bench-built';

/** Child mode `scan DIR N cursor|range`: scan every row; print rows, ms and peak RSS as JSON. */
async function scan(dir: string, n: number, how: 'cursor' | 'range'): Promise<void> {
  const env = await Env.open(dir, { durability: 'none', checkpointPeriodMs: 0, ...(CACHE_BYTES > 0 ? { cacheSize: CACHE_BYTES } : {}) });
  const d = await env.openDictionary('t');
  const t = env.begin();
  const t0 = performance.now();
  let rows = 0;
  if (how === 'cursor') for await (const _ of t.cursor(d)) rows++;
  else rows = (await t.range(d)).length;
  const ms = performance.now() - t0;
  // Live heap right after the scan (a full GC first when exposed): what the process still holds,
  // as opposed to peak RSS, which also counts garbage the collector had not yet returned.
  (globalThis as { gc?: () => void }).gc?.();
  const heapMiB = process.memoryUsage().heapUsed / 1048576;
  await t.commit();
  await env.close();
  if (rows !== n) throw new Error(`scanned ${rows} rows, expected ${n}`);
  process.stdout.write(`${JSON.stringify({ rows, ms, heapMiB, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
}

function child(args: string[], script = import.meta.filename): string {
  const r = spawnSync(process.execPath, ['--expose-gc', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

interface ScanResult {
  rows: number;
  ms: number;
  heapMiB: number;
  maxRssKiB: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function spread(xs: number[], digits: number): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
}

/** BENCH_BASE mode: txn.cursor scans of every size by this build and another, interleaved. */
async function compare(base: string, rounds: number): Promise<void> {
  const builds = [
    { name: 'this build', script: import.meta.filename },
    { name: 'base', script: resolve(base) },
  ];
  const res = builds.map(() => SIZES.map(() => [] as ScanResult[]));
  for (let round = 0; round < rounds; round++) {
    for (let s = 0; s < SIZES.length; s++) {
      const n = SIZES[s]!;
      const dir = join(DATA, `rows-${n}`);
      if (!existsSync(join(dir, BUILT))) child(['build', dir, String(n)]);
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const b of order) res[b]![s]!.push(JSON.parse(child(['scan', dir, String(n), 'cursor'], builds[b]!.script)) as ScanResult);
    }
    process.stdout.write(`  round ${round + 1}/${rounds} done\n`);
  }
  console.log('| build | rows | peak RSS MiB | rows/s | vs the smallest scan (medians) |');
  console.log('|---|---|---|---|---|');
  for (let b = 0; b < builds.length; b++) {
    const base0 = median(res[b]![0]!.map((r) => r.maxRssKiB / 1024));
    for (let s = 0; s < SIZES.length; s++) {
      const rss = res[b]![s]!.map((r) => r.maxRssKiB / 1024);
      const rate = res[b]![s]!.map((r) => r.rows / (r.ms / 1000) / 1000);
      console.log(`| ${builds[b]!.name} | ${SIZES[s]} | ${spread(rss, 1)} | ${spread(rate, 0)}k | ${(median(rss) / base0).toFixed(2)}x |`);
    }
  }
  for (let s = 0; s < SIZES.length; s++) {
    const ratios = res[0]![s]!.map((r, i) => r.ms === 0 ? 1 : res[1]![s]![i]!.ms / r.ms);
    console.log(`rows/s, this build / base, ${SIZES[s]} rows: ${spread(ratios, 2)} (per-round ratios)`);
  }
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const limit = CACHE_BYTES > 0 ? `cachetable limit ${(CACHE_BYTES / 1024).toFixed(0)} KiB` : 'no cachetable limit (the default)';
  console.log(`full scans, each in a fresh process (${limit}, 8-byte keys, 100-byte values)`);
  const results: Record<string, Array<{ rows: number; ms: number; mib: number; heap: number }>> = { cursor: [], range: [] };
  for (const n of SIZES) {
    const dir = join(DATA, `rows-${n}`);
    if (!existsSync(join(dir, BUILT))) child(['build', dir, String(n)]);
    for (const how of ['cursor', 'range'] as const) {
      const r = JSON.parse(child(['scan', dir, String(n), how])) as { rows: number; ms: number; heapMiB: number; maxRssKiB: number };
      results[how]!.push({ rows: r.rows, ms: r.ms, mib: r.maxRssKiB / 1024, heap: r.heapMiB });
    }
  }
  for (const how of ['cursor', 'range'] as const) {
    const base = results[how]![0]!.mib;
    for (const r of results[how]!) {
      const rate = Math.round(r.rows / (r.ms / 1000));
      console.log(`  txn.${how.padEnd(6)} ${String(r.rows).padStart(9)} rows  peak RSS ${r.mib.toFixed(1).padStart(7)} MiB  ${(r.mib / base).toFixed(2)}x the ${results[how]![0]!.rows}-row scan  live heap after it ${r.heap.toFixed(1)} MiB  ${rate} rows/s`);
    }
  }
}

const [mode, dir, n, how] = process.argv.slice(2);
const BASE = process.env['BENCH_BASE'];
if (mode === 'build') await build(dir!, Number(n));
else if (mode === 'scan') await scan(dir!, Number(n), how === 'range' ? 'range' : 'cursor');
else if (BASE !== undefined && BASE !== '') {
  mkdirSync(DATA, { recursive: true });
  const limit = CACHE_BYTES > 0 ? `cachetable limit ${(CACHE_BYTES / 1024).toFixed(0)} KiB` : 'no cachetable limit (the default)';
  console.log(`txn.cursor full scans, each in a fresh process, this build against ${BASE} (${limit}), load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await compare(BASE, Number(process.env['BENCH_ROUNDS'] ?? '3'));
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} else await main();
