/**
 * Forked crash states: the fast path of the crash search, beside the simple one. The simple
 * path reaches a crash at I/O call k by running the workload again from the start with a
 * crash armed at k. This one runs the workload once, captures the disk (a copy-on-write
 * snapshot) and the model at every I/O call and crash hook it wants to crash at, and after the
 * run crashes each captured copy (the seeded fault model: unsynced writes kept, dropped or
 * torn), recovers it and checks the oracles. Removing this file and the branches that call it
 * leaves the simple path whole.
 *
 * Invariants:
 *  - A forked crash state is the state an armed crash reaches: the disk as of the I/O call
 *    (hooks run before the call's work, and a halted disk applies nothing after it), the model
 *    at that moment, and the same draws of recovery mode and crash seed from the same seed.
 *    test/sim/fork-path.test.ts compares both paths state by state.
 *  - The captures change nothing in the run they are taken from (they only read it), so the
 *    run's own crash states are those of the simple path.
 *  - What recovery produces (RecoveredFacts) is a function of the crashed disk, the virtual
 *    time and the planted bugs: a crashed disk whose RecoveryMemo key was recovered before
 *    reuses those facts (the model-side checks still run for every state). Forked recoveries
 *    run without I/O jitter (recovery is a single task), so the key needs no jitter state.
 *  - The recovery mode is not part of the key: it only decides how the environment makes its
 *    own log writes durable afterwards (dsync handle or not, when a commit waits for an
 *    fsync, a periodic fsync timer that the unmoving clock never fires), which changes what
 *    is pending on the disk but not what a reader sees, and no fact reads the pending state
 *    except the disk's own consistency check. test/sim/recovery-memo.test.ts recovers
 *    crashed disks in every mode and compares the facts.
 *  - Nor are the bytes of the environment lock file when they are a lock record naming the
 *    harness's owner and no takeover claim lies beside it (recoveryDiskKey): on a SimStorage
 *    such a lock is judged stale by its owner alone, whatever its token and lease, and its
 *    bytes then only name the takeover claim that recovery creates and removes again. Every
 *    open draws a new random token, so without this no two workloads' crashed disks match.
 *    The same test compares a lock record of another token and lease.
 *  - Every exploration settles: a recovery that stalls is a violation (the watchdog), never a
 *    hang of the harness.
 */
import { plantedBugs } from '../base/bug-switches.js';
import { ENV_LOCK_FILE, parseLockRecord } from '../engine/env-lock.js';
import { Prng } from '../base/prng.js';
import { CRASH_HOOK_NAMES, type CrashHookName } from '../checkpoint/events.js';
import type { SimFaults, SimStats, SimStorage } from '../storage/sim-storage.js';
import type { ModelState } from './model.js';
import { DURABILITY_MODES, type DurabilityMode, type Op } from './program.js';
import { ENV_DIR, OWNER, Runner, watchForStall, describe, type CrashPoint, type RecoveredFacts, type RunnerOptions, type RunResult } from './runner.js';

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });
/** A lock record longer than this is not read as one (env-lock.ts reads no more). */
const MAX_LOCK_BYTES = 4096;

/**
 * The key of a crashed disk for RecoveryMemo: its contentKey, except that an environment
 * lock file holding a lock record of the harness's owner stands as 'own-lock' when no
 * takeover claim lies beside it (see the invariants).
 */
export function recoveryDiskKey(crashed: SimStorage): string {
  let own = false;
  const key = crashed.contentKey((dir, name, bytes) => {
    if (dir !== ENV_DIR || name !== ENV_LOCK_FILE) return undefined;
    const b = bytes();
    if (b.length > MAX_LOCK_BYTES) return undefined;
    let text: string;
    try {
      text = fatalUtf8.decode(b);
    } catch {
      return undefined;
    }
    const rec = parseLockRecord(text);
    if (!('info' in rec) || rec.info.owner !== OWNER) return undefined;
    own = true;
    return 'own-lock';
  });
  return own && key.includes(`/${ENV_LOCK_FILE}.takeover-`) ? crashed.contentKey() : key;
}

/** Facts of recoveries already run, by crashed-disk key (see the invariants). */
export class RecoveryMemo {
  private readonly facts = new Map<string, RecoveredFacts>();
  /** Recoveries run / reused (speed figures only: they depend on what ran before). */
  recoveries = 0;
  reused = 0;

  constructor(private readonly limit = 50_000) {}

  /** The reuse hook Runner.crashForked takes. */
  hook(clockMs: number): (crashed: SimStorage, mode: DurabilityMode) => { facts?: RecoveredFacts; store: (f: RecoveredFacts) => void } {
    return (crashed) => {
      const key = `${clockMs}|${plantedBugs().join(',')}|${recoveryDiskKey(crashed)}`;
      const facts = this.facts.get(key);
      if (facts !== undefined) this.reused++;
      else this.recoveries++;
      return {
        ...(facts !== undefined ? { facts } : {}),
        store: (f) => {
          if (this.facts.size >= this.limit) this.facts.clear();
          this.facts.set(key, f);
        },
      };
    };
  }
}

export interface ForkedState {
  violation: { message: string } | null;
  crashStates: number;
  /**
   * Faults this state's crash injected (and its recovery's, should it crash again). Its
   * `ioOps` is 0: whether the recovery ran or its facts were reused depends on which states
   * the same memo saw before (other units, on a thread of `--jobs`), and a search's summary
   * must not; the I/O calls counted are those of the runs the states were forked from.
   */
  faults: SimStats;
  /** For comparing paths: the crash's seed and fates, and what recovery produced. */
  trace: string;
}

function statsDelta(after: SimStats, before: SimStats): SimStats {
  const out = { ...after };
  for (const k of Object.keys(out) as Array<keyof SimStats>) out[k] -= before[k];
  return out;
}

/**
 * Crash a captured point, recover and check. `options` are those of the run it came from with
 * the seed that draws this state's recovery mode and crash seed (unless given).
 */
export async function exploreCrashPoint(
  point: CrashPoint,
  options: RunnerOptions,
  how: { mode?: DurabilityMode; crashSeed?: number; memo?: RecoveryMemo } = {},
): Promise<ForkedState> {
  const child = Runner.atPoint(point, options);
  child.disk.setIoJitter(0);
  if (point.clockMs > 0) await child.clock.advance(point.clockMs);
  const before = point.disk.stats();
  let settled = false;
  let trace = '';
  let violation: string | null = null;
  const work = (async () => {
    try {
      await child.crashForked(how.mode, how.crashSeed, how.memo?.hook(point.clockMs), (t) => (trace = t));
    } catch (err) {
      violation = child.violation?.message ?? `unexpected error: ${describe(err)}`;
      if (trace === '') trace = `VIOLATION ${violation}`;
    }
  })();
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  if (await watchForStall(() => settled, () => child.progress(), options.stallTurns)) {
    child.env?.abandon();
    violation = 'hang: recovery of a forked crash state never settles';
    trace = `VIOLATION ${violation}`;
  } else await work;
  // The recovery's I/O calls are left out (see ForkedState.faults).
  return { violation: violation === null ? null : { message: violation }, crashStates: child.crashStates, faults: { ...statsDelta(child.disk.stats(), before), ioOps: 0 }, trace };
}

// ------------------------------------------------------------------------------------------
// Exhaustive mode: one run per workload, every I/O call and hook forked.

export interface WorkloadSpec {
  base: SimStorage;
  baseState: ModelState;
  mode: DurabilityMode;
  body: Op[];
  faults?: Partial<SimFaults>;
  /** The seed of the simple path's run that crashes at point n (I/O n; 100000 + hook index). */
  seedOf: (n: number) => number;
  memo?: RecoveryMemo;
}

export interface WorkloadStates {
  crashStates: number;
  imageChecks: number;
  faults: SimStats;
  /** I/O calls of the workload's body. */
  ioCalls: number;
  /** Each: the point n, the seed, the simple path's script prefix (before the body) and the violation. */
  failures: Array<{ n: number; seed: number; lead: Op[]; opIndex: number; message: string; result: RunResult }>;
  /** Per point n (dry run as 0), the outcome line (for comparing with the simple path). */
  traces: Map<number, string>;
}

/**
 * Run a workload once on a copy of the base disk with its final crash, fork it at every I/O
 * call of its body and at the first firing of every crash hook, and explore each fork as the
 * simple path's run for that point would crash (exhaustive.ts).
 */
export async function forkWorkload(w: WorkloadSpec): Promise<WorkloadStates> {
  const points = new Map<number, CrashPoint>();
  const hookPoints = new Map<CrashHookName, CrashPoint>();
  let capturing = false;
  let finalPoint: CrashPoint | undefined;
  const base: RunnerOptions = { seed: 0, baseDisk: w.base, baseState: w.baseState, durability: w.mode, ...(w.faults !== undefined ? { faults: w.faults } : {}) };
  const runner = new Runner({
    ...base,
    seed: w.seedOf(0),
    onHook: (hook, r) => {
      if (capturing && !hookPoints.has(hook)) hookPoints.set(hook, r.capture());
    },
  });
  let ioAfterOpen = 0;
  runner.disk.onIo((ev) => {
    if (capturing) points.set(ev.seq - ioAfterOpen, runner.capture());
  });
  const ops: Op[] = [...w.body, { t: 'crash', mode: w.mode }];
  let i = 0;
  const baseStats = w.base.stats();
  const dry = await runner.run((r) => {
    if (i === 0) {
      ioAfterOpen = r.disk.ioOps();
      capturing = true;
    }
    if (i === ops.length - 1) {
      capturing = false;
      finalPoint = r.capture();
    }
    return ops[i++];
  });
  const out: WorkloadStates = { crashStates: dry.crashStates, imageChecks: dry.imageChecks, faults: statsDelta(dry.faults, baseStats), ioCalls: points.size, failures: [], traces: new Map() };
  out.traces.set(0, dry.violation === null ? 'ok' : `VIOLATION ${dry.violation.message}`);
  if (dry.violation !== null) {
    out.failures.push({ n: 0, seed: w.seedOf(0), lead: [], opIndex: dry.violation.opIndex, message: dry.violation.message, result: dry });
  }
  const explore = async (n: number, point: CrashPoint, lead: Op[], mode: DurabilityMode | undefined): Promise<void> => {
    const seed = w.seedOf(n);
    const s = await exploreCrashPoint(point, { ...base, seed }, { ...(mode !== undefined ? { mode } : {}), ...(w.memo !== undefined ? { memo: w.memo } : {}) });
    out.crashStates += s.crashStates;
    for (const k of Object.keys(out.faults) as Array<keyof SimStats>) out.faults[k] += s.faults[k];
    out.traces.set(n, s.trace);
    if (s.violation !== null) {
      // The simple path's script for this point: its run's ops are [lead, ...body, crash].
      const opIndex = point.opIndex + lead.length;
      const result: RunResult = { ops: [...lead, ...ops], violation: { opIndex, message: s.violation.message }, crashStates: s.crashStates, imageChecks: 0, faults: s.faults };
      out.failures.push({ n, seed, lead, opIndex, message: s.violation.message, result });
    }
  };
  for (const [n, point] of points) await explore(n, point, [{ t: 'crash-at-io', n }], undefined);
  for (let h = 0; h < CRASH_HOOK_NAMES.length; h++) {
    const hook = CRASH_HOOK_NAMES[h]!;
    const at = hookPoints.get(hook);
    // A hook the workload never reaches: the simple path's run ends with its final crash.
    if (at !== undefined) await explore(100_000 + h, at, [{ t: 'crash-at-hook', hook }], undefined);
    else if (finalPoint !== undefined) await explore(100_000 + h, finalPoint, [{ t: 'crash-at-hook', hook }], w.mode);
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Random mode: the program runs as on the simple path; sampled I/O calls are forked besides.

export interface ForkSampling {
  /** Chance that an I/O call of the program (outside opens and recoveries) is forked. */
  rate: number;
  memo?: RecoveryMemo;
}

/** The seed stream of a program's forks: apart from every stream the run itself draws from. */
export function forkRng(seed: number): Prng {
  return new Prng((seed ^ 0x3c6ef372) >>> 0);
}

/**
 * Run a program (as runRandomProgram does) and explore, besides its own crash states, a
 * forked crash at each sampled I/O call. A failing fork ends the search with a violation
 * whose script replays it on the simple path: `crash-at io N seed S mode M`, then the
 * program's operations up to the one in which I/O call N came.
 */
export async function runWithForks(options: RunnerOptions, program: (r: Runner) => Op | undefined, sampling: ForkSampling): Promise<RunResult & { forkedStates: number }> {
  const runner = new Runner(options);
  const rng = forkRng(options.seed);
  const forks: Array<{ point: CrashPoint; crashSeed: number; mode: DurabilityMode }> = [];
  runner.disk.onIo(() => {
    if (!runner.forkable() || !rng.chance(sampling.rate)) return;
    const point = runner.capture();
    const mode = DURABILITY_MODES[rng.int(DURABILITY_MODES.length)]!;
    forks.push({ point, crashSeed: rng.nextU32(), mode });
  });
  const res = await runner.run(program);
  let forkedStates = 0;
  if (res.violation !== null) return { ...res, forkedStates };
  for (const f of forks) {
    const s = await exploreCrashPoint(f.point, options, { mode: f.mode, crashSeed: f.crashSeed, ...(sampling.memo !== undefined ? { memo: sampling.memo } : {}) });
    forkedStates += s.crashStates;
    for (const k of Object.keys(res.faults) as Array<keyof SimStats>) res.faults[k] += s.faults[k];
    if (s.violation !== null) {
      const j = f.point.opIndex;
      const ops: Op[] = [{ t: 'crash-at', io: f.point.ioSeq, seed: f.crashSeed, mode: f.mode }, ...res.ops.slice(0, j + 1)];
      return { ...res, ops, violation: { opIndex: j + 1, message: s.violation.message }, crashStates: res.crashStates + forkedStates, forkedStates };
    }
  }
  return { ...res, crashStates: res.crashStates + forkedStates, forkedStates };
}
