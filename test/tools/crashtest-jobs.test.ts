import { afterEach, describe, expect, it } from 'vitest';
import { clearPlantedBugs, plantBug, plantedBugs } from '../../src/base/bug-switches.js';
import { runScript } from '../../src/sim/crashtest.js';
import { crashtestParallel } from '../../tools/crashtest-pool.js';
import { runCrashtest } from '../../tools/commands/crashtest.js';
import { EXIT } from '../../tools/cli-support.js';

afterEach(() => clearPlantedBugs());

describe('tools: crashtest --jobs and --duration', () => {
  // Property: the search is a list of independent units merged in order, so the number of
  // worker threads changes nothing in the summary (counts, fault totals, violations).
  it('Scenario: --jobs 1, 2 and 3 give the same summary for the same seed (random programs and exhaustive workloads)', async () => {
    const opts = { seed: 606, runs: 5, exhaustive: true, maxOps: 1, stopAtFirst: false };
    const one = await crashtestParallel({ ...opts, jobs: 1 });
    const two = await crashtestParallel({ ...opts, jobs: 2 });
    const three = await crashtestParallel({ ...opts, jobs: 3 });
    expect(one.programs).toBe(5);
    expect(one.workloads).toBe(7);
    expect(one.crashStates).toBeGreaterThan(100);
    expect(two).toEqual(one);
    expect(three).toEqual(one);
  }, 240_000);

  it('Scenario: the CLI prints the same JSON report with --jobs 1 and --jobs 2', async () => {
    const a: string[] = [];
    const b: string[] = [];
    expect(await runCrashtest({ seed: 1717, runs: 5, json: true, jobs: 1 }, (l) => a.push(l))).toBe(EXIT.OK);
    expect(await runCrashtest({ seed: 1717, runs: 5, json: true, jobs: 2 }, (l) => b.push(l))).toBe(EXIT.OK);
    expect(b.join('\n')).toBe(a.join('\n'));
    expect(JSON.parse(a.join('\n')).crashStates).toBeGreaterThan(50);
  }, 240_000);

  // Scenario: with a planted bug the workers find the same first violation as one thread (the
  // lowest-numbered failing program), and its script replays it.
  it('Scenario: a planted bug is caught on worker threads exactly as in process, and the violation replays', async () => {
    plantBug('free-blocks-at-begin');
    const one = await crashtestParallel({ seed: 2323, runs: 200, jobs: 1 });
    const two = await crashtestParallel({ seed: 2323, runs: 200, jobs: 2 });
    expect(one.violations.length).toBe(1);
    expect(two).toEqual(one);
    const v = two.violations[0]!;
    const again = await runScript(v.seed, v.ops, undefined, v.jitter);
    expect(again.violation?.message).toBe(v.message);
    expect(plantedBugs()).toEqual(['free-blocks-at-begin']);
  }, 240_000);

  it('Scenario: --duration runs programs until the time is up and prints the final report; with --exhaustive it is refused', async () => {
    const lines: string[] = [];
    expect(await runCrashtest({ seed: 4040, runs: 0, duration: 2, jobs: 2 }, (l) => lines.push(l))).toBe(EXIT.OK);
    const text = lines.join('\n');
    const programs = Number(/programs run: (\d+)/.exec(text)![1]);
    expect(programs).toBeGreaterThan(0);
    expect(text).toMatch(/crash states explored: \d+/);
    expect(text).toMatch(/violations found: 0/);
    expect(text).toContain(`soak: `);
    expect(text).toContain(`programs with seeds 4040..${4040 + programs - 1}`);
    await expect(runCrashtest({ seed: 1, runs: 0, duration: 1, exhaustive: true }, () => undefined)).rejects.toThrow(/--duration runs random programs only/);
    await expect(runCrashtest({ seed: 1, runs: 1, jobs: 0 }, () => undefined)).rejects.toThrow(/--jobs must be a positive integer/);
  }, 240_000);

  it('Scenario: a soak with a planted bug reports every violation with a replayable script', async () => {
    // The first program of this seed already fails (a soak runs at least one program).
    const lines: string[] = [];
    expect(await runCrashtest({ seed: 31337, runs: 0, duration: 1, jobs: 2, plantBug: 'replay-ignores-checkpoint-lsn' }, (l) => lines.push(l))).toBe(EXIT.VIOLATION);
    const found = Number(/violations found: (\d+)/.exec(lines.join('\n'))![1]);
    expect(found).toBeGreaterThan(0);
    const replays = lines.filter((l) => l.startsWith('replay: '));
    expect(replays.length).toBe(found);
    expect(replays[0]).toContain('--seed 31337 ');
    expect(plantedBugs()).toEqual([]);
  }, 240_000);
});
