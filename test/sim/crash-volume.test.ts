import { describe, expect, it } from 'vitest';
import { crashtestParallel } from '../../tools/crashtest-pool.js';
import { formatScript } from '../../src/sim/program.js';
import type { CrashtestSummary } from '../../src/sim/crashtest.js';

/**
 * The CI's crash search on the fork path (src/sim/fork.ts), on two worker threads: every
 * exhaustive workload of up to 4 operations, those of up to 3 on a second seed (other crash
 * seeds and recovery modes at every point), and random programs with every I/O call outside
 * opens and recoveries forked. Together at least 100,000 crash states, none violating.
 * (The re-run path keeps its own CI runs: test/sim/random.test.ts, test/sim/exhaustive.test.ts.)
 */
const RANDOM_PROGRAMS = 240;

function firstViolation(s: CrashtestSummary): string {
  const v = s.violations[0];
  return v === undefined ? 'none' : `seed ${v.seed}: ${v.message}\n${formatScript(v.ops)}`;
}

describe('sim: crash-state volume of the CI run', () => {
  it('Scenario: at least 100,000 crash states (random and exhaustive) on two worker threads, no violation', async () => {
    const big = await crashtestParallel({ seed: 2027, runs: RANDOM_PROGRAMS, exhaustive: true, maxOps: 4, jobs: 2, stopAtFirst: false });
    expect(firstViolation(big)).toBe('none');
    expect(big.programs).toBe(RANDOM_PROGRAMS);
    expect(big.workloads).toBe(7 + 49 + 343 + 2401);
    const second = await crashtestParallel({ seed: 2028, runs: 0, exhaustive: true, maxOps: 3, jobs: 2, stopAtFirst: false });
    expect(firstViolation(second)).toBe('none');
    expect(second.workloads).toBe(7 + 49 + 343);
    const total = big.crashStates + second.crashStates;
    expect(total).toBeGreaterThanOrEqual(100_000);
    // The faults really struck: unsynced writes were dropped and torn, directory entries lost.
    expect(big.faults.writesDropped).toBeGreaterThan(0);
    expect(big.faults.writesTorn).toBeGreaterThan(0);
    expect(big.faults.dirOpsLost).toBeGreaterThan(0);
    expect(big.faults.crashes).toBeGreaterThanOrEqual(big.crashStates);
  }, 600_000);
});
