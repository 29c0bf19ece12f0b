/**
 * Crash-test throughput: crash states explored per second in random mode and in exhaustive
 * mode (workloads of up to 2 operations), on one core. BENCH_SCALE multiplies the work.
 * Prints figures; asserts nothing.
 */
import { crashtest } from '../../src/sim/crashtest.js';
import { runExhaustive } from '../../src/sim/exhaustive.js';
import { useFastChecksums } from '../../src/node/fast-defaults.js';

// Checksums as fast as in the Node entry (the simulated disk itself gets no fast paths).
useFastChecksums();

const scale = Math.max(0.1, Number(process.env['BENCH_SCALE'] ?? '1'));

async function main(): Promise<void> {
  let t0 = performance.now();
  const runs = Math.round(200 * scale);
  const r = await crashtest({ seed: 1, runs, stopAtFirst: false });
  let secs = (performance.now() - t0) / 1000;
  console.log(`random: ${r.programs} programs, ${r.crashStates} crash states + ${r.imageChecks} checkpoint images in ${secs.toFixed(1)} s = ${(r.crashStates / secs).toFixed(0)} crash states/s (violations: ${r.violations.length})`);
  t0 = performance.now();
  const e = await runExhaustive({ seed: 1, maxOps: scale >= 2 ? 3 : 2 });
  secs = (performance.now() - t0) / 1000;
  console.log(`exhaustive: ${e.workloads} workloads, ${e.crashStates} crash states in ${secs.toFixed(1)} s = ${(e.crashStates / secs).toFixed(0)} crash states/s (violations: ${e.failures.length})`);
}

await main();
