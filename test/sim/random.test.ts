import { describe, expect, it } from 'vitest';
import { crashtest, runRandomProgram, runScript, DEFAULT_FAULTS } from '../../src/sim/crashtest.js';
import { formatScript } from '../../src/sim/program.js';

describe('sim: random crash programs against the model', () => {
  // Property: for every seed, a random program of dictionary, transaction, checkpoint and crash
  // operations (a third of them with seeded I/O interleaving of clients and the checkpointer)
  // recovers after every crash to a state the model allows, keeps prepared transactions
  // prepared, honours the write-ahead rule and the BTT invariants, and every completed
  // checkpoint's image equals the committed state at its begin.
  it('Scenario: 700 random programs find no violation', async () => {
    // The simple path: each program's own crashes only (the fork path is test/sim/crash-volume.test.ts).
    const s = await crashtest({ seed: 1, runs: 700, faults: DEFAULT_FAULTS, path: 'rerun' });
    const v = s.violations[0];
    expect(v === undefined ? 'none' : `seed ${v.seed}: ${v.message}\n${formatScript(v.ops)}`).toBe('none');
    expect(s.programs).toBe(700);
    expect(s.crashStates).toBeGreaterThan(3000);
    expect(s.imageChecks).toBeGreaterThan(1000);
    expect(s.faults.writesDropped).toBeGreaterThan(0);
    expect(s.faults.writesTorn).toBeGreaterThan(0);
    expect(s.faults.crashes).toBeGreaterThanOrEqual(s.crashStates);
  }, 240_000);

  // Scenario: a seed replays exactly: the same program, the same crash fates, the same counts.
  it('Scenario: one seed replays exactly, from the seed or from the printed script', async () => {
    const a = await runRandomProgram(4242, DEFAULT_FAULTS);
    const b = await runRandomProgram(4242, DEFAULT_FAULTS);
    expect(formatScript(b.ops)).toBe(formatScript(a.ops));
    expect(b.faults).toEqual(a.faults);
    const c = await runScript(4242, a.ops);
    expect(c.faults).toEqual(a.faults);
    expect(c.crashStates).toBe(a.crashStates);
  });
});
