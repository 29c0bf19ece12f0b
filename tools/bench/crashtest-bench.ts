/**
 * Crash-test throughput: crash states explored per second on one core, in random mode (the
 * same programs on both paths) and in exhaustive mode (every workload of up to 2 operations),
 * for the simple path (re-run the workload for each crash point) and the fork path (fork the
 * disk at each crash point, src/sim/fork.ts). Both paths run in this process, interleaved
 * (rerun, fork, rerun, fork, ...) for BENCH_ROUNDS rounds (default 3); it prints per figure
 * the median and min-max, and fork/rerun of the medians. BENCH_SCALE multiplies the random
 * programs. Prints figures; asserts nothing.
 */
import { crashtest } from '../../src/sim/crashtest.js';
import { runExhaustive, type SearchPath } from '../../src/sim/exhaustive.js';
import { useFastChecksums } from '../../src/node/fast-defaults.js';
import { Figures } from './figures.js';
import { loadavg } from 'node:os';

// Checksums as fast as in the Node entry (the simulated disk itself gets no fast paths).
useFastChecksums();

const scale = Math.max(0.1, Number(process.env['BENCH_SCALE'] ?? '1'));
const rounds = Math.max(1, Math.round(Number(process.env['BENCH_ROUNDS'] ?? '3')));
const runs = Math.max(1, Math.round(40 * scale));

interface Sample {
  states: number;
  secs: number;
}

async function randomMode(path: SearchPath): Promise<Sample> {
  const t0 = performance.now();
  const r = await crashtest({ seed: 1, runs, stopAtFirst: false, path });
  if (r.violations.length > 0) throw new Error(`random ${path}: ${r.violations.length} violation(s)`);
  return { states: r.crashStates, secs: (performance.now() - t0) / 1000 };
}

async function exhaustiveMode(path: SearchPath): Promise<Sample> {
  const t0 = performance.now();
  const e = await runExhaustive({ seed: 1, maxOps: 2, path });
  if (e.failures.length > 0) throw new Error(`exhaustive ${path}: ${e.failures.length} violation(s)`);
  return { states: e.crashStates, secs: (performance.now() - t0) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function line(label: string, xs: number[]): string {
  return `${label}: median ${median(xs).toFixed(0)} crash states/s (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
}

async function main(): Promise<void> {
  const figures = new Figures('crashtest-bench');
  console.log(`crashtest-bench: ${runs} random programs (seed 1) and every exhaustive workload of up to 2 operations (seed 1), ${rounds} interleaved rounds; load average at start ${loadavg()[0]!.toFixed(2)}`);
  for (const [mode, run] of [
    ['random', randomMode],
    ['exhaustive', exhaustiveMode],
  ] as const) {
    const rate: Record<SearchPath, number[]> = { rerun: [], fork: [] };
    const states: Record<SearchPath, number> = { rerun: 0, fork: 0 };
    for (let i = 0; i < rounds; i++) {
      for (const path of ['rerun', 'fork'] as const) {
        const s = await run(path);
        rate[path].push(s.states / s.secs);
        states[path] = s.states;
      }
    }
    console.log(`${mode}: ${states.rerun} crash states per round on the re-run path, ${states.fork} on the fork path`);
    console.log(`  ${line('rerun', rate.rerun)}`);
    console.log(`  ${line('fork ', rate.fork)}`);
    const ratios = rate.fork.map((f, i) => f / rate.rerun[i]!);
    console.log(`  fork/rerun: ${(median(rate.fork) / median(rate.rerun)).toFixed(2)}x of the medians (per round ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}x)`);
    figures.add(`crashtest.${mode}.rerun`, `crash states/s, ${mode}, re-run path`, 'states/s', median(rate.rerun), 'higher');
    figures.add(`crashtest.${mode}.fork`, `crash states/s, ${mode}, fork path`, 'states/s', median(rate.fork), 'higher');
  }
  console.log(`load average at end ${loadavg()[0]!.toFixed(2)}`);
  figures.writeIfRequested();
}

await main();
