import { afterEach, describe, expect, it } from 'vitest';
import { PLANTED_BUGS, clearPlantedBugs, isBugPlanted, plantBug, plantedBugs, type PlantedBugName } from '../../src/base/bug-switches.js';
import { crashtest, runScript } from '../../src/sim/crashtest.js';
import { crashtestParallel } from '../../tools/crashtest-pool.js';
import { runCrashtest } from '../../tools/commands/crashtest.js';
import { EXIT } from '../../tools/cli-support.js';
import { TokusimError } from '../../src/base/errors.js';

// Every planted bug. replay-ignores-checkpoint-lsn became visible once the alphabet had a
// non-idempotent operation (update / autoupdate with the built-in 'add'): re-applying an old
// commit of puts changes nothing, re-applying an add does.
const CAUGHT: PlantedBugName[] = [
  'skip-log-fsync-before-end-checkpoint',
  'header-before-btt-durable',
  'free-blocks-at-begin',
  'checkpoint-no-clone',
  'recovery-keeps-open-txns',
  'header-slot-by-offset',
  'replay-ignores-checkpoint-lsn',
  'abort-leaks-client-lock',
  'snapshot-reads-latest',
  'serializable-skips-read-locks',
];

afterEach(() => clearPlantedBugs());

describe('sim: planted bugs prove the harness can fail', () => {
  it('Scenario: switches are off by default and unknown names are refused', () => {
    expect(plantedBugs()).toEqual([]);
    expect(isBugPlanted('free-blocks-at-begin')).toBe(false);
    expect(() => plantBug('no-such-bug')).toThrow(TokusimError);
    plantBug('free-blocks-at-begin');
    expect(isBugPlanted('free-blocks-at-begin')).toBe(true);
  });

  for (const bug of CAUGHT) {
    // Scenario: with the bug planted the default run count finds a violation for several seeds,
    // the printed script replays it, and the same script passes once the bug is removed.
    it(`Scenario: planted bug ${bug} is caught, replays from its script, and is gone without the bug`, async () => {
      for (const seed of [1, 31337]) {
        plantBug(bug);
        const s = await crashtest({ seed, runs: 200 });
        expect(s.violations.length, `seed ${seed}`).toBe(1);
        const v = s.violations[0]!;
        const again = await runScript(v.seed, v.ops, undefined, v.jitter);
        expect(again.violation?.message).toBe(v.message);
        clearPlantedBugs();
        const clean = await runScript(v.seed, v.ops, undefined, v.jitter);
        expect(clean.violation).toBeNull();
      }
    }, 60_000);
  }

  for (const bug of CAUGHT) {
    // Scenario: the fork-path search (the default) on two worker threads, with seeds no other
    // test uses, catches the bug in random mode, and its printed script replays it.
    it(`Scenario: planted bug ${bug} is caught by the forked search on worker threads with fresh seeds`, async () => {
      for (const seed of [60_601, 70_707]) {
        plantBug(bug);
        const s = await crashtestParallel({ seed, runs: 200, jobs: 2 });
        expect(s.violations.length, `seed ${seed}`).toBe(1);
        const v = s.violations[0]!;
        const again = await runScript(v.seed, v.ops, undefined, v.jitter);
        expect(again.violation?.message, `seed ${seed}`).toBe(v.message);
        clearPlantedBugs();
      }
    }, 120_000);
  }

  it('Scenario: tokusim crashtest --plant-bug reports the violation with a replayable script and exits 6', async () => {
    const lines: string[] = [];
    const code = await runCrashtest({ seed: 5, runs: 200, plantBug: 'checkpoint-no-clone' }, (l) => lines.push(l));
    expect(code).toBe(EXIT.VIOLATION);
    const text = lines.join('\n');
    expect(text).toMatch(/crash states explored: \d+/);
    expect(text).toMatch(/violations found: 1/);
    expect(text).toMatch(/VIOLATION \(seed \d+/);
    const replay = lines.find((l) => l.startsWith('replay: '))!;
    const script = /--script '([^']*)'/.exec(replay)![1]!;
    const seed = Number(/--seed (\d+)/.exec(replay)![1]);
    const jitter = Number(/--jitter (\d+)/.exec(replay)![1]);
    const out2: string[] = [];
    expect(await runCrashtest({ seed, runs: 0, plantBug: 'checkpoint-no-clone', script, jitter, faults: /--faults (\S+)/.exec(replay)![1]! }, (l) => out2.push(l))).toBe(EXIT.VIOLATION);
    expect(await runCrashtest({ seed, runs: 0, script, jitter, faults: /--faults (\S+)/.exec(replay)![1]! }, () => undefined)).toBe(EXIT.OK);
    expect(plantedBugs()).toEqual([]);
  }, 60_000);

  it('Scenario: every planted bug is in the caught list', () => {
    expect([...CAUGHT].sort()).toEqual(Object.keys(PLANTED_BUGS).sort());
  });

  // Scenario: the CLI catches the replay LSN-filter bug for several seeds within its default run count.
  it('Scenario: tokusim crashtest --plant-bug replay-ignores-checkpoint-lsn exits 6 for several seeds', async () => {
    for (const seed of [2, 400, 9001]) {
      const lines: string[] = [];
      const code = await runCrashtest({ seed, runs: 200, plantBug: 'replay-ignores-checkpoint-lsn' }, (l) => lines.push(l));
      expect(code, `seed ${seed}`).toBe(EXIT.VIOLATION);
      expect(lines.join('\n')).toMatch(/violations found: 1/);
    }
    expect(plantedBugs()).toEqual([]);
  }, 60_000);

  it('Scenario: --plant-bug list names every switch; a clean short run exits 0', async () => {
    const lines: string[] = [];
    expect(await runCrashtest({ seed: 1, runs: 0, plantBug: 'list' }, (l) => lines.push(l))).toBe(EXIT.OK);
    expect(lines.length).toBe(Object.keys(PLANTED_BUGS).length);
    expect(lines.some((l) => l.startsWith('checkpoint-no-clone: '))).toBe(true);
    const out: string[] = [];
    expect(await runCrashtest({ seed: 900, runs: 5 }, (l) => out.push(l))).toBe(EXIT.OK);
    expect(out.join('\n')).toMatch(/violations found: 0/);
  }, 60_000);
});
