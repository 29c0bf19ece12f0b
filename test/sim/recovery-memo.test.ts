import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/base/prng.js';
import { DEFAULT_FAULTS, jitterFor } from '../../src/sim/crashtest.js';
import { exploreCrashPoint, recoveryDiskKey, RecoveryMemo } from '../../src/sim/fork.js';
import { ENV_LOCK_FILE } from '../../src/engine/env-lock.js';
import type { SimStorage } from '../../src/storage/sim-storage.js';
import { programGenerator } from '../../src/sim/generator.js';
import { DURABILITY_MODES, type DurabilityMode } from '../../src/sim/program.js';
import { ENV_DIR, OWNER, Runner, type CrashPoint, type RecoveredFacts, type RunnerOptions } from '../../src/sim/runner.js';

/**
 * RecoveryMemo files what a forked recovery produced under the crashed disk's contents, the
 * virtual time and the planted bugs, not the recovery mode: a disk crashed once and recovered
 * in 'sync' gives the facts a 'none' or 'periodic' recovery of the same disk would. These
 * tests check that claim directly (every mode on the same crashed disk) and check that the
 * search's outcome per state is the same with the memo as with a fresh recovery per state.
 */

interface Captured {
  options: RunnerOptions;
  points: Array<{ point: CrashPoint; crashSeed: number; mode: DurabilityMode }>;
}

/** Run a random program (history alphabet) and capture a crash point at every forkable I/O call, as runWithForks does. */
async function capture(seed: number, length: number): Promise<Captured> {
  const options: RunnerOptions = { seed, faults: DEFAULT_FAULTS, ioJitter: jitterFor(seed) };
  const runner = new Runner(options);
  const rng = new Prng(seed * 7919 + 1);
  const points: Captured['points'] = [];
  runner.disk.onIo(() => {
    if (!runner.forkable()) return;
    points.push({ point: runner.capture(), crashSeed: rng.nextU32(), mode: DURABILITY_MODES[rng.int(DURABILITY_MODES.length)]! });
  });
  const res = await runner.run(programGenerator(seed, { length, history: true }));
  expect(res.violation).toBeNull();
  return { options, points };
}

/** A copy of the point whose disk holds `record` (durably) as the environment lock file. */
async function withLock(p: Captured['points'][number], record: object): Promise<Captured['points'][number]> {
  const disk = p.point.disk.snapshot();
  const f = await disk.open(`${ENV_DIR}/${ENV_LOCK_FILE}`, 'create');
  await f.truncate(0);
  await f.pwrite(new TextEncoder().encode(JSON.stringify(record) + '\n'), 0);
  await f.fsync();
  await f.close();
  return { ...p, point: { ...p.point, disk } };
}

function crashedCopy(disk: SimStorage, seed: number): SimStorage {
  const c = disk.snapshot();
  c.crash({ seed });
  return c;
}

/** The facts as comparable text (maps sorted, bigints as decimal). */
function factsText(f: RecoveredFacts): string {
  const contents = f.contents instanceof Map ? [...f.contents].sort((a, b) => a[0] - b[0]).map(([d, rows]) => [d, [...rows].sort((a, b) => a[0] - b[0])]) : f.contents;
  return JSON.stringify({ ...f, contents, prepared: f.prepared.map(String) });
}

/** Crash the point with the given seed, recover it in `mode` (no memo) and return the facts recovery produced. */
async function factsIn(c: Captured, p: Captured['points'][number], mode: DurabilityMode): Promise<string> {
  const child = Runner.atPoint(p.point, c.options);
  child.disk.setIoJitter(0);
  if (p.point.clockMs > 0) await child.clock.advance(p.point.clockMs);
  let facts: RecoveredFacts | undefined;
  try {
    await child.crashForked(mode, p.crashSeed, () => ({ store: (f) => (facts = f) }));
  } catch {
    // A violation found by the model-side checks: the facts were filed before them.
  }
  expect(facts, `recovery at I/O ${p.point.ioSeq} in mode ${mode} produced facts`).toBeDefined();
  return factsText(facts!);
}

describe('sim: recovery facts do not depend on the recovery mode', () => {
  it('Scenario: every captured crash state of four random programs, recovered in sync, periodic and none, gives the same facts', async () => {
    let states = 0;
    let withRows = 0;
    let withPrepared = 0;
    // 5118 and 5120 prepare transactions (recovery lists them as prepared).
    for (const seed of [5101, 5102, 5118, 5120]) {
      const c = await capture(seed, 40);
      for (const p of c.points) {
        const [first, ...rest] = await Promise.all(DURABILITY_MODES.map((m) => factsIn(c, p, m)));
        for (const [j, other] of rest.entries()) expect(other, `seed ${seed} I/O ${p.point.ioSeq}: ${DURABILITY_MODES[j + 1]} vs ${DURABILITY_MODES[0]}`).toBe(first);
        states++;
        if (/"contents":\[\[\d+,\[\[/.test(first!)) withRows++;
        if (!first!.includes('"prepared":[]')) withPrepared++;
      }
    }
    // The states compared are not trivial: many recover rows, some prepared transactions.
    expect(states).toBeGreaterThan(200);
    expect(withRows).toBeGreaterThan(states / 4);
    expect(withPrepared).toBeGreaterThan(0);
  }, 300_000);

  it('Scenario: with the memo (mode left out of its key) every forked state has the outcome of a fresh recovery, and some reuse crosses modes', async () => {
    let states = 0;
    let crossMode = 0;
    for (const seed of [5201, 5202]) {
      const c = await capture(seed, 30);
      const memo = new RecoveryMemo();
      const modeOfKey = new Map<string, DurabilityMode>();
      for (const p of c.points) {
        const fresh = await exploreCrashPoint(p.point, c.options, { mode: p.mode, crashSeed: p.crashSeed });
        const reused = memo.reused;
        const memoed = await exploreCrashPoint(p.point, c.options, { mode: p.mode, crashSeed: p.crashSeed, memo });
        expect(memoed.trace, `seed ${seed} I/O ${p.point.ioSeq} mode ${p.mode}`).toBe(fresh.trace);
        expect(memoed.violation).toEqual(fresh.violation);
        // Which mode first recovered this crashed disk (the key the memo used, without the mode).
        const crashed = p.point.disk.snapshot();
        crashed.crash({ seed: p.crashSeed });
        const key = `${p.point.clockMs}|${recoveryDiskKey(crashed)}`;
        const firstMode = modeOfKey.get(key);
        if (firstMode === undefined) modeOfKey.set(key, p.mode);
        else {
          expect(memo.reused, `seed ${seed} I/O ${p.point.ioSeq}: a crashed disk recovered before is reused`).toBe(reused + 1);
          if (firstMode !== p.mode) crossMode++;
        }
        states++;
      }
      expect(memo.recoveries).toBe(modeOfKey.size);
    }
    expect(states).toBeGreaterThan(100);
    expect(crossMode).toBeGreaterThan(10);
  }, 300_000);

  it("Scenario: the lock file's token and lease leave the memo key and the facts unchanged when it names the harness's owner; another owner's live lock changes both", async () => {
    let compared = 0;
    for (const seed of [5301, 5302]) {
      const c = await capture(seed, 30);
      for (let i = 0; i < c.points.length; i += 3) {
        const p = c.points[i]!;
        const a = await withLock(p, { owner: OWNER, pid: 1, leaseExpiresMs: 1000, token: 'aaaa' });
        const b = await withLock(p, { owner: OWNER, pid: 77, leaseExpiresMs: 9_000_000_000, token: 'bbbbbbbb' });
        const other = await withLock(p, { owner: 'another-host', pid: 5, leaseExpiresMs: 8_000_000_000_000 });
        const [ka, kb, ko] = [a, b, other].map((x) => recoveryDiskKey(crashedCopy(x.point.disk, x.crashSeed)));
        expect(crashedCopy(a.point.disk, a.crashSeed).contentKey()).not.toBe(crashedCopy(b.point.disk, b.crashSeed).contentKey());
        expect(kb).toBe(ka);
        expect(ko).not.toBe(ka);
        const fa = await factsIn(c, a, p.mode);
        expect(await factsIn(c, b, p.mode), `seed ${seed} I/O ${p.point.ioSeq}`).toBe(fa);
        expect(fa).not.toMatch(/openViolation/);
        // A live lock of someone else: recovery does not run (the key must not share its facts).
        expect(await factsIn(c, other, p.mode)).toMatch(/"openViolation":"recovery failed: [^"]*lock/);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(30);
  }, 300_000);
});
