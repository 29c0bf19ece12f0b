import { afterEach, describe, expect, it } from 'vitest';
import { clearPlantedBugs, plantBug, plantedBugs } from '../../src/base/bug-switches.js';
import { DEFAULT_FAULTS, crashtest, jitterFor, runRandomProgram, runScript } from '../../src/sim/crashtest.js';
import { formatScript, parseScript } from '../../src/sim/program.js';
import { Runner, watchForStall } from '../../src/sim/runner.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { runCrashtest } from '../../tools/commands/crashtest.js';
import { EXIT } from '../../tools/cli-support.js';

afterEach(() => clearPlantedBugs());

/** The program `tokusim crashtest --seed 43497 --runs 1` generated, up to the operation that hung. */
const SEED_43497 =
  'create d0; begin x1; abort x1; autodel d0 k0; crash-at-io 34; crash sync; advance 100; autoput d0 k1 1; crash-at-io 14; crash sync; ' +
  'autoput d0 k5 2; crash-at-hook afterPendingPairsWritten; autoput d0 k2 3; crash none; reopen periodic; begin x0; checkpoint; ' +
  'put x0 d0 k0 4; crash-at-io 8; begin x1; put x1 d0 k3 5; create d1; crash-at-hook afterHeadersBeforeEndCheckpoint; autoput d1 k3 6; ' +
  'abort x0; checkpoint-bg; checkpoint-bg; abort x1';

describe('sim: the runner watchdog', () => {
  // Scenario: with a planted lock leak an abort keeps the multi-operation lock, so the next
  // checkpoint never settles. The watchdog reports it as a violation at that operation, with the
  // operations so far as the script, instead of the process exiting silently with code 13.
  it('Scenario: a planted hang is reported as a violation naming the stuck operation, and replays', async () => {
    plantBug('abort-leaks-client-lock');
    const ops = parseScript('create d0; autoput d0 k1 1; begin x0; put x0 d0 k2 2; abort x0; checkpoint; autoput d0 k3 3');
    const r = await runScript(7, ops);
    expect(r.violation?.opIndex).toBe(5);
    expect(r.violation?.message).toMatch(/^hang: operation 6 \(checkpoint\) never settles: 64 event-loop turns passed with no simulated I\/O/);
    expect(formatScript(r.ops)).toBe(formatScript(ops.slice(0, 6)));
    const again = await runScript(7, r.ops);
    expect(again.violation).toEqual(r.violation);
    clearPlantedBugs();
    expect((await runScript(7, r.ops)).violation).toBeNull();
  });

  // Scenario: random mode with the planted hang stops at the first hung program and prints its
  // seed and a replayable script; the CLI exits 6 (a violation), and the replay command it prints
  // reproduces the hang, and passes once the bug is switched off.
  it('Scenario: tokusim crashtest --plant-bug abort-leaks-client-lock exits 6 with the seed and a replayable script', async () => {
    const lines: string[] = [];
    const code = await runCrashtest({ seed: 1, runs: 200, plantBug: 'abort-leaks-client-lock' }, (l) => lines.push(l));
    expect(code).toBe(EXIT.VIOLATION);
    const text = lines.join('\n');
    expect(text).toMatch(/violations found: 1/);
    const head = /VIOLATION \(seed (\d+), at operation (\d+) of (\d+)\): hang: operation (\d+) \(.*\) never settles/.exec(text);
    expect(head).not.toBeNull();
    expect(head![2]).toBe(head![3]); // the hung operation is the script's last
    expect(head![4]).toBe(head![2]);
    const replay = lines.find((l) => l.startsWith('replay: '))!;
    expect(replay).toContain(`--seed ${head![1]} `);
    expect(replay).toContain('--plant-bug abort-leaks-client-lock');
    const script = /--script '([^']*)'/.exec(replay)![1]!;
    const jitter = Number(/--jitter (\d+)/.exec(replay)![1]);
    const faults = /--faults (\S+)/.exec(replay)![1]!;
    const seed = Number(head![1]);
    const out: string[] = [];
    expect(await runCrashtest({ seed, runs: 0, plantBug: 'abort-leaks-client-lock', script, jitter, faults }, (l) => out.push(l))).toBe(EXIT.VIOLATION);
    expect(out.join('\n')).toMatch(/hang: operation \d+ .* never settles/);
    expect(await runCrashtest({ seed, runs: 0, script, jitter, faults }, () => undefined)).toBe(EXIT.OK);
    expect(plantedBugs()).toEqual([]);
  }, 60_000);

  // Scenario: a program that keeps doing I/O past its budget (what a livelock looks like from
  // outside) ends with a violation instead of running for ever.
  it('Scenario: a program past its I/O budget ends with a no-progress violation', async () => {
    const ops = parseScript('create d0; autoput d0 k1 1; autoput d0 k2 2; checkpoint; autoput d0 k3 3; checkpoint; crash sync');
    const full = await new Runner({ seed: 3, faults: DEFAULT_FAULTS }).run(ops);
    expect(full.violation).toBeNull();
    // A budget of half of what the whole program needs runs out inside some operation
    // after the environment is open (a fixed count would depend on how much I/O opening takes).
    const budget = Math.floor(full.faults.ioOps * 0.5);
    expect(budget).toBeGreaterThan(0);
    const r = await new Runner({ seed: 3, faults: DEFAULT_FAULTS, maxIoOps: budget }).run(ops);
    expect(r.violation?.message).toMatch(new RegExp(`^no progress: operation \\d+ \\(.*\\) had not finished after the program's ${budget} simulated I/O calls`));
    // The replayable script ends with the operation that ran out of budget.
    const stuckAt = Number(/operation (\d+)/.exec(r.violation!.message)![1]);
    expect(r.ops.length).toBe(stuckAt);
  });

  // Property: a task that keeps the virtual clock moving is never called stalled, however many
  // event-loop turns it takes; one that waits on nothing is, after the given number of idle turns.
  it('Scenario: watchForStall tells a slow task from a stuck one', async () => {
    const clock = new VirtualClock();
    let slowDone = false;
    void (async () => {
      for (let i = 0; i < 200; i++) await clock.advance(1);
      slowDone = true;
    })();
    expect(await watchForStall(() => slowDone, () => String(clock.nowMs()), 8)).toBe(false);
    expect(slowDone).toBe(true);
    const stuck = new Promise<void>(() => undefined);
    let stuckDone = false;
    void stuck.then(() => (stuckDone = true));
    expect(await watchForStall(() => stuckDone, () => String(clock.nowMs()), 8)).toBe(true);
  });
});

describe('sim: crashtest seed 43497 (a clone write lost to a crash left the rollback PAIR locked)', () => {
  // Scenario: a crash-at-io strikes the background write of a rollback node the aborting client
  // had just cloned; the abort then removes that node. The removal threw and kept the node
  // write-locked, and the background checkpoint waited for it for ever (exit 13, no output).
  it('Scenario: seed 43497 runs to the end with no violation, from the seed and from its script', async () => {
    const r = await runRandomProgram(43497, DEFAULT_FAULTS);
    expect(r.violation).toBeNull();
    expect(r.ops.length).toBe(40);
    expect(formatScript(r.ops).split('\n').slice(0, 28).join('; ')).toBe(SEED_43497);
    // The script up to the abort that hung, then a crash: the abort settles and recovery checks out.
    const s = await runScript(43497, parseScript(`${SEED_43497}; crash sync`), DEFAULT_FAULTS, jitterFor(43497));
    expect(s.violation).toBeNull();
    expect(s.ops.length).toBe(29);
    expect(s.crashStates).toBe(4);
  });

  it('Scenario: tokusim crashtest --seed 43497 --runs 1 exits 0', async () => {
    const lines: string[] = [];
    expect(await runCrashtest({ seed: 43497, runs: 1 }, (l) => lines.push(l))).toBe(EXIT.OK);
    expect(lines.join('\n')).toMatch(/programs run: 1\n.*\n.*\nviolations found: 0/);
    const s = await crashtest({ seed: 43497, runs: 1 });
    expect(s.violations).toEqual([]);
  });
});
