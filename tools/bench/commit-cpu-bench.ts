/**
 * Single-writer durable commits, CPU per commit, two or more builds in one process (issue 18).
 * Not a test: it prints figures and asserts nothing.
 *
 *   node dist/tools/bench/commit-cpu-bench.js [distDir ...]
 *
 * Each distDir is a built tree (its `src/node/env.js` is imported; default: this build). The
 * builds take turns over COMMIT_ROUNDS rounds (default 9, first build alternating), each run a
 * fresh environment under COMMIT_DIR (default /dev/shm/tokusim-commitcpu, a tmpfs: O_DSYNC
 * costs nothing there, so the figure is the engine's CPU and promise turns, not the disk's)
 * with durability 'sync', doing COMMIT_N (default 4000) commits of one 14-byte key and a
 * 100-byte value, after a warm-up run of each build. Two loops: `env.put` (the autocommit
 * batch) and `begin / put / commit`. Prints commits/s and CPU microseconds per commit
 * (process.cpuUsage, user+system, over the run; includes the I/O threads and GC), medians
 * with min-max, and each build's median ratio to the first build per round.
 */
import { rmSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const DIR = process.env['COMMIT_DIR'] ?? '/dev/shm/tokusim-commitcpu';
const N = Number(process.env['COMMIT_N'] ?? '4000');
const ROUNDS = Number(process.env['COMMIT_ROUNDS'] ?? '9');
const VALUE = new Uint8Array(100).fill(0x61);
const enc = new TextEncoder();
const keyOf = (i: number): Uint8Array => enc.encode(`key${String(i).padStart(10, '0')}`);

interface EnvLike {
  createDictionary(name: string): Promise<unknown>;
  put(d: unknown, k: Uint8Array, v: Uint8Array): Promise<void>;
  begin(): { put(d: unknown, k: Uint8Array, v: Uint8Array): Promise<void>; commit(): Promise<void> };
  close(): Promise<void>;
}
interface Build {
  name: string;
  open(dir: string): Promise<EnvLike>;
}

async function loadBuild(dist: string): Promise<Build> {
  const url = (p: string): string => pathToFileURL(join(dist, p)).href;
  const envMod = (await import(url('src/node/env.js'))) as { Env: { open(dir: string, o: object): Promise<EnvLike> } };
  const storageMod = (await import(url('src/storage/node-storage.js'))) as { defaultNodeStorage(): unknown };
  const fast = (await import(url('src/node/fast-defaults.js'))) as { useFastPathsByDefault(): void; useFastChecksums(): void };
  fast.useFastPathsByDefault();
  fast.useFastChecksums();
  return {
    name: dist,
    open: (dir) => envMod.Env.open(dir, { storage: storageMod.defaultNodeStorage(), durability: 'sync', checkpointPeriodMs: 0, owner: 'commit-cpu-bench', cacheSize: 512 << 20 }),
  };
}

type Loop = 'put' | 'txn';

async function run(b: Build, loop: Loop, n: number): Promise<{ perSec: number; cpuUs: number }> {
  const dir = join(DIR, 'run');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const env = await b.open(dir);
  const d = await env.createDictionary('bench');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (loop === 'put') {
    for (let i = 0; i < n; i++) await env.put(d, keyOf(i), VALUE);
  } else {
    for (let i = 0; i < n; i++) {
      const t = env.begin();
      await t.put(d, keyOf(i), VALUE);
      await t.commit();
    }
  }
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await env.close();
  return { perSec: n / (ms / 1000), cpuUs: (c.user + c.system) / n };
}

function spread(xs: readonly number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const med = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  return `${f(med)} (${f(s[0]!)}-${f(s[s.length - 1]!)})`;
}

async function main(): Promise<void> {
  const dists = process.argv.slice(2);
  if (dists.length === 0) dists.push(resolve(import.meta.dirname, '..', '..'));
  const builds: Build[] = [];
  for (const d of dists) builds.push(await loadBuild(resolve(d)));
  console.log(`commit-cpu-bench: ${N} single-writer durable commits per run in ${DIR}, ${ROUNDS} rounds, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (const loop of ['put', 'txn'] as const) {
    for (const b of builds) await run(b, loop, Math.min(N, 2000));
    const rate: number[][] = builds.map(() => []);
    const cpu: number[][] = builds.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      const order = builds.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) {
        const x = await run(builds[i]!, loop, N);
        rate[i]!.push(x.perSec);
        cpu[i]!.push(x.cpuUs);
      }
    }
    console.log(`\n${loop === 'put' ? 'env.put' : 'begin/put/commit'}:`);
    builds.forEach((b, i) => {
      const ratio = rate[i]!.map((x, r) => x / rate[0]![r]!);
      const cpuRatio = cpu[i]!.map((x, r) => x / cpu[0]![r]!);
      console.log(`  ${b.name}\n    commits/s ${spread(rate[i]!)}   CPU us/commit ${spread(cpu[i]!)}   vs first: rate x${spread(ratio)}, CPU x${spread(cpuRatio)}`);
    });
  }
  rmSync(DIR, { recursive: true, force: true });
}

await main();
