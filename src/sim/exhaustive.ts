/**
 * Exhaustive mode (CrashMonkey style): every workload of up to `maxOps` operations from a
 * small alphabet, run on the same base environment, crashed at every I/O call it makes and
 * at every checkpoint hook, then recovered and checked by the runner's oracles.
 *
 * Invariants:
 *  - Every crash state is independent: each starts from a snapshot of the same base disk.
 *  - The crash at I/O n uses a crash seed derived from (seed, workload index, n), so one
 *    failing state replays from its printed script alone (its ops plus a crash-at-io).
 */
import { CRASH_HOOK_NAMES } from '../checkpoint/events.js';
import type { SimFaults, SimStats } from '../storage/sim-storage.js';
import { SimStorage } from '../storage/sim-storage.js';
import type { DurabilityMode, Op } from './program.js';
import { Runner, watchForStall, type RunResult } from './runner.js';
import { forkWorkload, RecoveryMemo } from './fork.js';
import type { ModelState } from './model.js';

/** The alphabet: each letter is a short, fixed list of operations. */
export const EXHAUSTIVE_ALPHABET: ReadonlyArray<{ name: string; ops: Op[] }> = [
  { name: 'put', ops: [{ t: 'autoput', d: 0, k: 0, v: 100 }] },
  { name: 'del', ops: [{ t: 'autodel', d: 0, k: 1 }] },
  { name: 'open-txn', ops: [{ t: 'begin', x: 0 }, { t: 'put', x: 0, d: 0, k: 2, v: 200 }] },
  { name: 'prepare', ops: [{ t: 'begin', x: 1 }, { t: 'put', x: 1, d: 0, k: 3, v: 300 }, { t: 'prepare', x: 1 }] },
  { name: 'checkpoint', ops: [{ t: 'checkpoint' }] },
  { name: 'checkpoint-client', ops: [{ t: 'checkpoint-client', d: 0, k: 1, v: 400 }] },
  /** Not idempotent: replaying it twice is visible (the LSN filter is under test). */
  { name: 'update', ops: [{ t: 'autoupdate', d: 0, k: 0, n: 5 }] },
];

export interface ExhaustiveOptions {
  seed: number;
  /** Longest workload (default 3). */
  maxOps?: number;
  faults?: Partial<SimFaults>;
  /** Durability of the environment the workloads run in (default: alternate sync / none). */
  durability?: DurabilityMode;
  /** Only run workloads whose index satisfies this (sharding / sampling). */
  filter?: (index: number) => boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * How a crash state is reached: 'rerun' runs the workload again with the crash armed (the
   * simple path), 'fork' runs it once and forks the disk at every crash point (fork.ts).
   * Both explore the same first crash of every run; 'rerun' also goes on after that recovery
   * with the rest of the workload and a final crash. Default 'fork'.
   */
  path?: SearchPath;
  /** Per point outcome lines of each workload (for comparing the paths). */
  onTrace?: (workload: number, point: number, trace: string) => void;
}

/** See ExhaustiveOptions.path. */
export type SearchPath = 'rerun' | 'fork';

export interface ExhaustiveResult {
  workloads: number;
  crashStates: number;
  imageChecks: number;
  /** Each failure replays with runScript(seed, script, faults, 0) (no I/O jitter). */
  failures: Array<{ workload: string; seed: number; result: RunResult; script: Op[] }>;
  faults: SimStats;
}

/** Every sequence of 1..maxOps letters (indices into the alphabet). */
export function enumerateWorkloads(maxOps: number): number[][] {
  const out: number[][] = [];
  let layer: number[][] = [[]];
  for (let len = 1; len <= maxOps; len++) {
    const next: number[][] = [];
    for (const w of layer) for (let a = 0; a < EXHAUSTIVE_ALPHABET.length; a++) next.push([...w, a]);
    out.push(...next);
    layer = next;
  }
  return out;
}

/** The base environment: d0 with rows k0..k3 committed and checkpointed, then closed cleanly. */
export async function buildBase(seed: number, faults?: Partial<SimFaults>): Promise<SimStorage> {
  const r = new Runner({ seed, imageChecks: false, ...(faults !== undefined ? { faults } : {}) });
  // Not run(): it abandons the environment at the end, and the base must be closed cleanly
  // (every byte durable, a shutdown record last). So it gets run()'s watchdog here.
  let built = false;
  const work = (async () => {
    await r.open('sync', false);
    for (const op of prelude('sync').slice(0, -1)) await r.step(op);
    if (r.violation !== null) throw new Error(`base environment failed: ${r.violation.message}`);
    await r.env!.close();
  })();
  work.then(
    () => (built = true),
    () => (built = true),
  );
  if (await watchForStall(() => built, () => r.progress())) {
    r.env?.abandon();
    throw new Error(`base environment (seed ${seed}) hung: building it stopped making progress after ${r.ops.length} operation(s)`);
  }
  await work;
  // Whatever the close left unsynced (e.g. the lock file's removal) reaches the disk, as it
  // would long before the next session: the workloads start from a fully durable base.
  const disk = r.disk.snapshot();
  disk.crash({ mode: 'keep-all' });
  return disk;
}

function zeroStats(): SimStats {
  return { ioOps: 0, crashes: 0, writesKept: 0, writesDropped: 0, writesTorn: 0, sectorsLost: 0, truncatesKept: 0, truncatesDropped: 0, dirOpsKept: 0, dirOpsLost: 0, filesGone: 0, bytesCorrupted: 0 };
}

export function addStats(into: SimStats, s: SimStats, base?: SimStats): void {
  for (const k of Object.keys(into) as Array<keyof SimStats>) into[k] += s[k] - (base?.[k] ?? 0);
}

const BASE_STATE: ModelState = new Map([[0, new Map([[0, 1], [1, 2], [3, 3]])]]);
/** The operations that rebuild the base environment from an empty disk (for replay scripts). */
function prelude(mode: DurabilityMode): Op[] {
  return [{ t: 'create', d: 0 }, { t: 'autoput', d: 0, k: 0, v: 1 }, { t: 'autoput', d: 0, k: 1, v: 2 }, { t: 'autoput', d: 0, k: 3, v: 3 }, { t: 'checkpoint' }, { t: 'reopen', mode }];
}

/** What every workload of one exhaustive search shares: the base disk and the workload list. */
export interface ExhaustiveContext {
  opts: ExhaustiveOptions;
  base: SimStorage;
  baseStats: SimStats;
  workloads: number[][];
  memo: RecoveryMemo;
}

export async function exhaustiveContext(opts: ExhaustiveOptions): Promise<ExhaustiveContext> {
  const base = await buildBase(opts.seed, opts.faults);
  return { opts, base, baseStats: base.stats(), workloads: enumerateWorkloads(opts.maxOps ?? 3), memo: new RecoveryMemo() };
}

/** Explore workload wi (every crash point of it) into a result of its own. */
export async function exploreWorkload(ctx: ExhaustiveContext, wi: number): Promise<ExhaustiveResult> {
  const { opts, base, baseStats } = ctx;
  const result: ExhaustiveResult = { workloads: 1, crashStates: 0, imageChecks: 0, failures: [], faults: zeroStats() };
  const letters = ctx.workloads[wi]!;
  const name = letters.map((a) => EXHAUSTIVE_ALPHABET[a]!.name).join(',');
  const body = letters.flatMap((a) => EXHAUSTIVE_ALPHABET[a]!.ops);
  const mode: DurabilityMode = opts.durability ?? (wi % 2 === 0 ? 'sync' : 'none');
  const seedOf = (n: number) => (opts.seed * 1_000_003 + wi * 7919 + n) >>> 0;
  if ((opts.path ?? 'fork') === 'fork') {
    const w = await forkWorkload({ base, baseState: BASE_STATE, mode, body, seedOf, memo: ctx.memo, ...(opts.faults !== undefined ? { faults: opts.faults } : {}) });
    result.crashStates += w.crashStates;
    result.imageChecks += w.imageChecks;
    addStats(result.faults, w.faults);
    for (const f of w.failures) result.failures.push({ workload: name, seed: f.seed, result: f.result, script: [...prelude(mode), ...f.result.ops] });
    if (opts.onTrace !== undefined) for (const [n, t] of w.traces) opts.onTrace(wi, n, t);
    return result;
  }
  let ioCalls = 0;
  const runOne = async (crashOps: Op[], n: number): Promise<RunResult> => {
    let first = true;
    const onCrashState = (t: string): void => {
      // The first crash of the run is the state both paths explore (the dry run: its final one).
      if (first || n === 0) opts.onTrace?.(wi, n, n === 0 ? (t.includes(' VIOLATION ') ? `VIOLATION ${t.slice(t.indexOf(' VIOLATION ') + 11)}` : 'ok') : t);
      first = false;
    };
    const runner = new Runner({ seed: seedOf(n), baseDisk: base, baseState: BASE_STATE, durability: mode, ...(opts.faults !== undefined ? { faults: opts.faults } : {}), ...(opts.onTrace !== undefined ? { onCrashState } : {}) });
    const ops: Op[] = [...crashOps, ...body, { t: 'crash', mode }];
    let i = 0;
    let ioAfterOpen = 0;
    const res = await runner.run((r) => {
      if (i === 0) ioAfterOpen = r.disk.ioOps();
      // The I/O calls the workload makes before its final crash (measured on the dry run).
      if (i === ops.length - 1 && crashOps.length === 0) ioCalls = r.disk.ioOps() - ioAfterOpen;
      return ops[i++];
    });
    result.crashStates += res.crashStates;
    result.imageChecks += res.imageChecks;
    addStats(result.faults, res.faults, baseStats);
    if (res.violation !== null) result.failures.push({ workload: name, seed: seedOf(n), result: res, script: [...prelude(mode), ...res.ops] });
    return res;
  };
  // A dry run counts the I/O calls of the workload (and checks its final crash).
  await runOne([], 0);
  for (let n = 1; n <= ioCalls; n++) await runOne([{ t: 'crash-at-io', n }], n);
  for (let h = 0; h < CRASH_HOOK_NAMES.length; h++) await runOne([{ t: 'crash-at-hook', hook: CRASH_HOOK_NAMES[h]! }], 100_000 + h);
  return result;
}

/** Add one workload's (or program's) result into a running total. */
export function addExhaustive(into: ExhaustiveResult, r: ExhaustiveResult): void {
  into.workloads += r.workloads;
  into.crashStates += r.crashStates;
  into.imageChecks += r.imageChecks;
  addStats(into.faults, r.faults);
  into.failures.push(...r.failures);
}

export async function runExhaustive(opts: ExhaustiveOptions): Promise<ExhaustiveResult> {
  const ctx = await exhaustiveContext(opts);
  const result: ExhaustiveResult = { workloads: 0, crashStates: 0, imageChecks: 0, failures: [], faults: zeroStats() };
  let done = 0;
  for (let wi = 0; wi < ctx.workloads.length; wi++) {
    if (opts.filter !== undefined && !opts.filter(wi)) continue;
    addExhaustive(result, await exploreWorkload(ctx, wi));
    opts.onProgress?.(++done, ctx.workloads.length);
  }
  return result;
}
