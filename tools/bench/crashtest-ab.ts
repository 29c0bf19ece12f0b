/**
 * Crash-test throughput of this build against another build (BENCH_BASE: the root of a built
 * checkout, e.g. a `git worktree` of main's HEAD after `npx tsc -p tsconfig.json`), both in this
 * process: the fork-path sets of crashtest-bench (40 * BENCH_SCALE random programs of seed 1,
 * every exhaustive workload of up to 2 operations of seed 1), the two builds alternating and the
 * order swapped every round, BENCH_ROUNDS rounds (default 5). Prints, per set and build, the
 * median and min-max of crash states per wall-clock second and per CPU-second, and this
 * build's ratio to the base per round; asserts nothing. On a shared machine the ratios are the
 * result, the CPU-second ones the steadier.
 *
 *   BENCH_BASE=/tmp/base node dist/tools/bench/crashtest-ab.js
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crashtest } from '../../src/sim/crashtest.js';
import { runExhaustive } from '../../src/sim/exhaustive.js';
import { useFastChecksums } from '../../src/node/fast-defaults.js';

interface Build {
  crashtest: (o: { seed: number; runs: number; stopAtFirst: boolean; path: 'fork' }) => Promise<{ crashStates: number; violations: unknown[] }>;
  runExhaustive: (o: { seed: number; maxOps: number; path: 'fork' }) => Promise<{ crashStates: number; failures: unknown[] }>;
}

async function load(root: string): Promise<Build> {
  const at = (p: string) => pathToFileURL(resolve(root, 'dist', p)).href;
  const ct = (await import(at('src/sim/crashtest.js'))) as { crashtest: Build['crashtest'] };
  const ex = (await import(at('src/sim/exhaustive.js'))) as { runExhaustive: Build['runExhaustive'] };
  const fast = (await import(at('src/node/fast-defaults.js'))) as { useFastChecksums: () => void };
  fast.useFastChecksums();
  return { crashtest: ct.crashtest, runExhaustive: ex.runExhaustive };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const span = (xs: number[], digits = 0) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  const baseRoot = process.env['BENCH_BASE'];
  if (baseRoot === undefined || baseRoot === '') {
    console.error('crashtest-ab: set BENCH_BASE to the root of another built checkout');
    process.exitCode = 2;
    return;
  }
  useFastChecksums();
  const builds: Record<'base' | 'this', Build> = { base: await load(baseRoot), this: { crashtest, runExhaustive } };
  const scale = Math.max(0.1, Number(process.env['BENCH_SCALE'] ?? '0.5'));
  const rounds = Math.max(1, Math.round(Number(process.env['BENCH_ROUNDS'] ?? '5')));
  const runs = Math.max(1, Math.round(40 * scale));
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  type Figures = { wall: number[]; cpu: number[]; states: number };
  const sets = ['random', 'exhaustive'] as const;
  const fig: Record<(typeof sets)[number], Record<'base' | 'this', Figures>> = {
    random: { base: { wall: [], cpu: [], states: 0 }, this: { wall: [], cpu: [], states: 0 } },
    exhaustive: { base: { wall: [], cpu: [], states: 0 }, this: { wall: [], cpu: [], states: 0 } },
  };
  const loads = [loadavg()[0]!];
  console.log(`crashtest-ab: base ${baseRoot}, ${runs} random programs and the exhaustive workloads of up to 2 operations (seed 1, fork path), ${rounds} rounds`);
  for (let i = 0; i < rounds; i++) {
    for (const b of i % 2 === 0 ? (['base', 'this'] as const) : (['this', 'base'] as const)) {
      for (const set of sets) {
        const t0 = performance.now();
        const c0 = cpu();
        const states =
          set === 'random'
            ? await builds[b].crashtest({ seed: 1, runs, stopAtFirst: false, path: 'fork' }).then((r) => {
                if (r.violations.length > 0) throw new Error(`${b}: random mode found ${r.violations.length} violation(s)`);
                return r.crashStates;
              })
            : await builds[b].runExhaustive({ seed: 1, maxOps: 2, path: 'fork' }).then((r) => {
                if (r.failures.length > 0) throw new Error(`${b}: exhaustive mode found ${r.failures.length} violation(s)`);
                return r.crashStates;
              });
        const f = fig[set][b];
        f.wall.push(states / ((performance.now() - t0) / 1000));
        f.cpu.push(states / (cpu() - c0));
        f.states = states;
      }
    }
    loads.push(loadavg()[0]!);
  }
  for (const set of sets) {
    const { base, this: mine } = fig[set];
    for (const [label, f] of [
      ['base', base],
      ['this', mine],
    ] as const) {
      console.log(`${set} ${label}: ${f.states} crash states per round; ${span(f.wall)} states/s wall-clock, ${span(f.cpu)} per CPU-second`);
    }
    const rw = mine.wall.map((x, i) => x / base.wall[i]!);
    const rc = mine.cpu.map((x, i) => x / base.cpu[i]!);
    console.log(
      `${set} this/base: ${(median(mine.wall) / median(base.wall)).toFixed(2)}x wall-clock (per round ${Math.min(...rw).toFixed(2)}-${Math.max(...rw).toFixed(2)}), ` +
        `${(median(mine.cpu) / median(base.cpu)).toFixed(2)}x per CPU-second (per round ${Math.min(...rc).toFixed(2)}-${Math.max(...rc).toFixed(2)})`,
    );
  }
  console.log(`load average (1 min) at the start and after each round: ${loads.map((x) => x.toFixed(2)).join(' ')}`);
}

await main();
