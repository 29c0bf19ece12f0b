/**
 * The crash-test runner: executes a program (src/sim/program.ts) against the engine on a
 * SimStorage and against the Model, crashes where the program says (or where an armed I/O
 * or hook crash strikes), recovers, and checks the oracles.
 *
 * Oracles checked after every recovery (each failure is a violation, never an exception):
 *  - contents: the recovered dictionaries equal the model after some commit prefix at least
 *    as long as the acknowledged-durable prefix (see model.ts);
 *  - prepared: every acknowledged prepared transaction is still prepared, nothing else is
 *    prepared or live;
 *  - write-ahead rule: no dictionary header on the crashed disk carries a checkpoint LSN
 *    beyond the last LSN of the (repaired) log;
 *  - structure: the BTT invariants of every open dictionary, the disk model's invariants;
 *  - recovery itself succeeds (any error is a violation);
 *  - progress (the watchdog): a program that stops making progress is a violation, never a
 *    silent exit or a hang of the harness (see watchForStall below).
 * Checked as the program runs: every read in a transaction, and every write of a snapshot
 * transaction, against the model for the transaction's isolation level (history-check.ts).
 * After every completed checkpoint the image oracle runs: a copy of the disk with every
 * unsynced write dropped, opened read-only at the newest headers, holds exactly the model's
 * state as of the checkpoint's begin.
 *
 * Invariants:
 *  - Deterministic: the seed fixes the disk (fault fates, I/O jitter) and every crash seed,
 *    so runProgram(seed, ops) replays exactly.
 *  - At most one background checkpoint at a time; it is settled before any crash.
 *  - run() always settles: a stalled program is reported after a bounded number of idle
 *    event-loop turns, a program that keeps doing I/O after maxIoOps calls. The watchdog adds no
 *    promise continuation to the program, so the interleaving a seed fixes is unchanged.
 */
import { TokusimError } from '../base/errors.js';
import type { Xid } from '../format/record-types.js';
import { Env } from '../engine/env.js';
import type { Txn } from '../engine/txn.js';
import type { CrashHook } from '../checkpoint/checkpointer.js';
import { CRASH_HOOK_NAMES, type CrashHookName } from '../checkpoint/events.js';
import { readHeaderSlots } from '../blocks/dictionary-file.js';
import { VirtualClock } from '../storage/clock.js';
import { Prng } from '../base/prng.js';
import { SimStorage, SimulatedCrash, type CrashReport, type SimFaults, type SimStats } from '../storage/sim-storage.js';
import { joinPath } from '../storage/storage.js';
import { Model, formatState, statesEqual, type ModelState, type RowWrite } from './model.js';
import { formatOp, type DurabilityMode, type Op } from './program.js';
import { HistoryChecker } from './history-check.js';
import { SnapshotConflictError } from '../engine/txn.js';
import { LockConflictError } from '../engine/locktree.js';
import { nextMacrotask } from '../base/portable.js';

export const ENV_DIR = '/env';
/** The environment lock's owner id of every environment the harness opens. */
export const OWNER = 'crashtest';
const enc = new TextEncoder();
const dec = new TextDecoder();
const XA: Xid = { formatID: 1, gtridLength: 2, bqualLength: 1, data: enc.encode('ctx') };

export interface RunnerOptions {
  seed: number;
  faults?: Partial<SimFaults>;
  /** Seeded promise turns before each I/O completes (interleaving of concurrent tasks). */
  ioJitter?: number;
  sectorSize?: number;
  /** B+tree fan-out (small values give multi-node trees). Default 4. */
  maxEntries?: number;
  /** Log file size before rollover. Default 4096. */
  lgMax?: number;
  /** Durability of the first open. Default 'sync'. */
  durability?: DurabilityMode;
  /** Run the image oracle after completed checkpoints. Default true. */
  imageChecks?: boolean;
  /** Start from this disk (a snapshot is taken) instead of an empty one... */
  baseDisk?: SimStorage;
  /** ...whose committed contents are these. */
  baseState?: ModelState;
  /** Idle event-loop turns after which an unsettled program is reported as hung. Default 64. */
  stallTurns?: number;
  /** Simulated I/O calls after which a program still running is reported as not finishing (a livelock). Default 1,000,000. */
  maxIoOps?: number;
  /**
   * Called (synchronously) when a checkpoint reaches a crash hook, before the hook the program
   * armed (if any) runs: the fork explorer captures a crash point there (src/sim/fork.ts).
   * Setting it makes every hook a call, which costs each checkpoint a few promise turns.
   */
  onHook?: (hook: CrashHookName, r: Runner) => void;
  /** Called after every crash recovery with its outcome line (stateTrace), for comparing search paths. */
  onCrashState?: (trace: string) => void;
}

/**
 * The moment of a run a crash can strike, captured without stopping the run: the disk as of
 * that I/O call (a copy-on-write snapshot), the model and what the runner knows of prepared
 * transactions being resolved. A forked crash state is recovered from it (src/sim/fork.ts).
 */
export interface CrashPoint {
  disk: SimStorage;
  model: Model;
  resolving: Map<bigint, { writes: RowWrite[]; commit: boolean; commitIndex: number }>;
  clockMs: number;
  /** The I/O calls the disk had counted (the crash strikes the last one). */
  ioSeq: number;
  /** The operation running at that moment (-1 while opening). */
  opIndex: number;
}

/**
 * What recovery produced, read off the recovered environment and independent of the model:
 * the same crashed disk always gives the same facts, so a forked crash state whose crashed
 * disk is identical to one already recovered reuses them (RecoveryMemo in fork.ts).
 */
export interface RecoveredFacts {
  /** A violation found while opening (recovery failed, the write-ahead rule broken). */
  openViolation?: string;
  /** The user dictionaries' contents, or why they could not be read. */
  contents: ModelState | { error: string };
  /** Ids of the transactions listed as prepared. */
  prepared: bigint[];
  liveTxns: number;
  preparedTxns: number;
  /** The first structural invariant that fails, if any. */
  structure?: string;
}

export const DEFAULT_STALL_TURNS = 64;
export const DEFAULT_MAX_IO_OPS = 1_000_000;

/**
 * The watchdog: wait until done() or until the simulation can no longer move. Nothing in the
 * simulated world waits for the host: SimStorage completes every call in promise continuations
 * (its jitter too), and the VirtualClock moves only when the runner advances it, one event-loop
 * turn per step. So an event-loop turn in which progress() did not change (no I/O call, no
 * clock movement, no timer fired) means every promise continuation has run and none woke the
 * program; after `turns` such turns in a row it can never settle. Returns true when stalled.
 * The loop only reads progress() between turns, so it never changes the program's interleaving.
 */
export async function watchForStall(done: () => boolean, progress: () => string, turns: number = DEFAULT_STALL_TURNS): Promise<boolean> {
  let idle = 0;
  let last = progress();
  while (!done()) {
    await nextMacrotask();
    if (done()) return false;
    const now = progress();
    if (now !== last) {
      last = now;
      idle = 0;
    } else if (++idle >= turns) {
      return true;
    }
  }
  return false;
}

export interface Violation {
  /** Index of the operation during or after which it was found. */
  opIndex: number;
  message: string;
}

export interface RunResult {
  /** The operations executed (a replayable script). */
  ops: Op[];
  violation: Violation | null;
  crashStates: number;
  imageChecks: number;
  faults: SimStats;
}

export function keyBytes(k: number): Uint8Array {
  return enc.encode(`k${k}`);
}
export function valueBytes(v: number): Uint8Array {
  return enc.encode(String(v));
}

class ViolationFound extends Error {}

/** A program's execution: one disk, one model, one environment at a time. */
export class Runner {
  readonly disk: SimStorage;
  readonly clock = new VirtualClock();
  model = new Model();
  /** Checks transactions' reads and snapshot writes against the model (a forked runner gets a new one with its model). */
  history = new HistoryChecker(this.model);
  env: Env | undefined;
  mode: DurabilityMode;
  crashStates = 0;
  imageChecks = 0;
  ops: Op[] = [];
  violation: Violation | null = null;
  private readonly crashRng: Prng;
  private readonly txns = new Map<number, Txn>();
  private readonly hooks: Partial<Record<CrashHookName, CrashHook>> = {};
  /** What the environment calls at its crash hooks: the armed hooks, or dispatchers when options.onHook is set. */
  private readonly envHooks: Partial<Record<CrashHookName, CrashHook>>;
  /** A `crash-at` that struck and is not yet recovered: its crash seed and recovery mode. */
  private seededCrash: { seed: number; mode: DurabilityMode } | undefined;
  private armedHook: CrashHookName | undefined;
  private bg: { promise: Promise<void>; commitsAtStart: number } | null = null;
  /** Prepared transactions resolved (or being resolved) since the last verification. */
  private resolving = new Map<bigint, { writes: RowWrite[]; commit: boolean; commitIndex: number }>();
  private opIndex = -1;
  /** Opens and crash recoveries under way (a crash inside one is not where a script's armed crash would strike). */
  private opening = 0;
  /** Set once the I/O budget is spent: every later I/O call crashes and the run ends with this. */
  private stopped: string | undefined;

  constructor(readonly options: RunnerOptions) {
    this.disk =
      options.baseDisk?.snapshot() ??
      new SimStorage({
        seed: options.seed,
        ...(options.faults !== undefined ? { faults: options.faults } : {}),
        ...(options.ioJitter !== undefined ? { ioJitter: options.ioJitter } : {}),
        ...(options.sectorSize !== undefined ? { sectorSize: options.sectorSize } : {}),
      });
    if (options.baseDisk !== undefined && options.faults !== undefined) this.disk.setFaults(options.faults);
    this.crashRng = new Prng((options.seed ^ 0x2545f491) >>> 0);
    this.mode = options.durability ?? 'sync';
    if (options.baseState !== undefined) this.model.setBase(options.baseState);
    const onHook = options.onHook;
    if (onHook === undefined) this.envHooks = this.hooks;
    else {
      this.envHooks = {};
      for (const name of CRASH_HOOK_NAMES) {
        this.envHooks[name] = (ctx) => {
          onHook(name, this);
          return this.hooks[name]?.(ctx);
        };
      }
    }
  }

  /** Capture the present moment as a crash point (synchronous: the run goes on unchanged). */
  capture(): CrashPoint {
    const resolving = new Map<bigint, { writes: RowWrite[]; commit: boolean; commitIndex: number }>();
    for (const [id, r] of this.resolving) resolving.set(id, { ...r });
    return { disk: this.disk.snapshot(), model: this.model.clone(), resolving, clockMs: this.clock.nowMs(), ioSeq: this.disk.ioOps(), opIndex: this.opIndex };
  }

  /**
   * A runner standing at a captured crash point, on its own copy of the disk, whose crash
   * draws its recovery mode and crash seed from `seed` exactly as a runner of that seed
   * crashed there by an armed crash would (pickMode, then the crash seed).
   */
  static atPoint(point: CrashPoint, options: RunnerOptions): Runner {
    const r = new Runner({ ...options, baseDisk: point.disk });
    r.model = point.model.clone();
    r.history = new HistoryChecker(r.model);
    for (const [id, x] of point.resolving) r.resolving.set(id, { ...x });
    r.opIndex = point.opIndex;
    return r;
  }

  // ------------------------------------------------------------------ environment

  private envOptions(mode: DurabilityMode) {
    return {
      storage: this.disk,
      clock: this.clock,
      durability: mode,
      periodMs: 50,
      checkpointPeriodMs: 0,
      owner: OWNER,
      maxEntries: this.options.maxEntries ?? 4,
      lgMax: this.options.lgMax ?? 4096,
      checkpointHooks: this.envHooks,
    };
  }

  /** Open (recovering if needed). A crash during recovery is crashed and recovered again. */
  async open(mode: DurabilityMode, afterCrash: boolean): Promise<void> {
    this.opening++;
    try {
      await this.openInner(mode, afterCrash);
    } finally {
      this.opening--;
    }
  }

  private async openInner(mode: DurabilityMode, afterCrash: boolean): Promise<void> {
    this.mode = mode;
    for (let attempt = 0; ; attempt++) {
      const headerLsn = afterCrash ? await this.newestHeaderLsn() : 0n;
      try {
        this.env = await Env.open(ENV_DIR, this.envOptions(mode));
      } catch (err) {
        if (err instanceof SimulatedCrash && attempt < 5 && this.stopped === undefined) {
          this.disk.crash({ seed: this.crashRng.nextU32() });
          this.crashStates++;
          afterCrash = true;
          continue;
        }
        if (err instanceof SimulatedCrash) throw err;
        this.fail(`recovery failed: ${describe(err)}`);
      }
      const report = this.env.recoveryReport;
      if (afterCrash && report !== null && headerLsn > report.lastLsn) {
        this.fail(`write-ahead rule broken: a dictionary header has checkpoint LSN ${headerLsn} but the log ends at LSN ${report.lastLsn}`);
      }
      return;
    }
  }

  /** The largest checkpoint LSN among the valid header slots of every dictionary file on disk. */
  private async newestHeaderLsn(): Promise<bigint> {
    let max = 0n;
    if (!(await this.disk.exists(ENV_DIR))) return max;
    for (const name of await this.disk.list(ENV_DIR)) {
      if (!name.endsWith('.tokudb') && !name.startsWith('tokudb.')) continue;
      if (name === 'tokudb.environment' || name === 'tokudb.directory' || name === 'tokudb.rollback' || name.endsWith('.tokudb')) {
        const f = await this.disk.open(joinPath(ENV_DIR, name), 'read');
        try {
          for (const s of await readHeaderSlots(f, name)) {
            if (s.status === 'ok' && s.header!.checkpointLsn > max) max = s.header!.checkpointLsn;
          }
        } finally {
          await f.close();
        }
      }
    }
    return max;
  }

  private fail(message: string): never {
    this.violation = { opIndex: this.opIndex, message };
    throw new ViolationFound(message);
  }

  // ------------------------------------------------------------------ program execution

  /** What the watchdog compares between event-loop turns. */
  progress(): string {
    return `${this.disk.ioOps()}/${this.clock.nowMs()}/${this.clock.timersFired()}`;
  }

  /** Where the program is, for a watchdog report. */
  private where(): string {
    return this.opIndex < 0 ? 'opening the environment' : `operation ${this.opIndex + 1} (${formatOp(this.ops[this.opIndex]!)})`;
  }

  /**
   * Run ops (the environment is opened first); stops at the first violation. Always settles:
   * a program the watchdog finds stalled, or one that spends its I/O budget, ends with a
   * violation that names the operation it was in; the ops so far are its replayable script.
   */
  async run(ops: Iterable<Op> | ((r: Runner) => Op | undefined)): Promise<RunResult> {
    const maxIo = this.options.maxIoOps ?? DEFAULT_MAX_IO_OPS;
    const ioLimit = this.disk.ioOps() + maxIo;
    const unhook = this.disk.onIo((ev) => {
      if (ev.seq <= ioLimit) return;
      this.stopped ??= `no progress: ${this.where()} had not finished after the program's ${maxIo} simulated I/O calls (a livelock?)`;
      throw new SimulatedCrash(ev.seq, 'the I/O budget is spent');
    });
    let settled = false;
    const body = this.runBody(ops);
    body.then(
      () => (settled = true),
      () => (settled = true),
    );
    const turns = this.options.stallTurns ?? DEFAULT_STALL_TURNS;
    if (await watchForStall(() => settled, () => this.progress(), turns)) {
      unhook();
      const timers = this.clock.pendingTimers();
      const hang =
        `hang: ${this.where()} never settles: ${turns} event-loop turns passed with no simulated I/O and no virtual-clock movement ` +
        `(${timers} virtual timer${timers === 1 ? '' : 's'} pending, the clock moves only in 'advance' operations${this.bg !== null ? '; a background checkpoint is running' : ''}), so nothing can wake it`;
      if (this.violation === null) this.violation = { opIndex: this.opIndex, message: hang };
      else this.violation.message += `; then ${hang}`;
      // The stuck tasks are left to the garbage collector; nothing of this run may act again.
      this.env?.abandon();
      return { ops: this.ops, violation: this.violation, crashStates: this.crashStates, imageChecks: this.imageChecks, faults: this.disk.stats() };
    }
    unhook();
    return body;
  }

  private async runBody(ops: Iterable<Op> | ((r: Runner) => Op | undefined)): Promise<RunResult> {
    try {
      if (this.env === undefined) await this.guard(() => this.open(this.mode, false));
      if (typeof ops === 'function') {
        for (let op = ops(this); op !== undefined; op = ops(this)) await this.step(op);
      } else {
        for (const op of ops) await this.step(op);
      }
    } catch (err) {
      if (this.stopped !== undefined) this.violation ??= { opIndex: this.opIndex, message: this.stopped };
      if (!(err instanceof ViolationFound)) {
        this.violation ??= { opIndex: this.opIndex, message: `unexpected error: ${describe(err)}` };
      }
    }
    // A background checkpoint still running when the program stopped (at a violation, or
    // crashed by an armed I/O or hook crash that no later operation met) is settled here; its
    // SimulatedCrash is no result, any other failure is a violation if none was found yet.
    try {
      await this.settleBackground();
    } catch (err) {
      if (!(err instanceof SimulatedCrash)) this.violation ??= { opIndex: this.opIndex, message: `background checkpoint failed: ${describe(err)}` };
    }
    this.env?.abandon();
    return { ops: this.ops, violation: this.violation, crashStates: this.crashStates, imageChecks: this.imageChecks, faults: this.disk.stats() };
  }

  async step(op: Op): Promise<void> {
    this.ops.push(op);
    this.opIndex = this.ops.length - 1;
    await this.guard(() => this.exec(op));
    // A crash-at that struck another task (a background checkpoint) is recovered now, not at
    // the next operation's I/O: the state is the one at its I/O call, whatever runs next.
    if (this.seededCrash !== undefined && this.disk.isHalted()) {
      await this.guard(() => Promise.reject(new SimulatedCrash(this.disk.ioOps(), 'a crash-at struck')));
    }
  }

  /** Run fn; a SimulatedCrash becomes crash + recovery + verification. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (this.stopped !== undefined) this.fail(this.stopped);
      // Once the disk has halted the machine is dead: whatever a task raises after that point
      // (e.g. a client meeting the leftovers of a checkpoint the crash interrupted) never
      // happens on real hardware, so it is the crash, not a violation.
      if (err instanceof SimulatedCrash || this.disk.isHalted()) {
        const seeded = this.seededCrash;
        this.seededCrash = undefined;
        if (seeded !== undefined) await this.crashAndRecover(seeded.mode, seeded.seed, true);
        else await this.crashAndRecover(this.pickMode());
        return;
      }
      if (err instanceof ViolationFound) throw err;
      this.fail(`${this.ops.length > 0 ? formatOp(this.ops[this.ops.length - 1]!) : 'open'} failed: ${describe(err)}`);
    }
  }

  private pickMode(): DurabilityMode {
    const r = this.crashRng.int(3);
    return r === 0 ? 'sync' : r === 1 ? 'periodic' : 'none';
  }

  private get e(): Env {
    if (this.env === undefined) throw new TokusimError('invariant', 'no environment is open');
    return this.env;
  }

  private async dict(d: number) {
    return this.e.openDictionary(`d${d}`);
  }

  /** Mark commit index i acknowledged if the environment is in sync mode. */
  private ackCommit(i: number): void {
    if (this.mode === 'sync') this.model.markDurable(i + 1);
  }

  private async exec(op: Op): Promise<void> {
    const m = this.model;
    switch (op.t) {
      case 'create': {
        if (m.dictExists(op.d)) return;
        const i = m.addCommit({ writes: [], creates: [op.d], label: `create d${op.d}` });
        await this.e.createDictionary(`d${op.d}`);
        this.ackCommit(i);
        return;
      }
      case 'begin': {
        if (m.slots.has(op.x)) return;
        const t = this.e.begin(op.iso !== undefined ? { isolation: op.iso } : {});
        this.txns.set(op.x, t);
        m.slots.set(op.x, { id: t.id, writes: [], state: 'live' });
        this.history.begin(op.x, op.iso ?? 'read-committed');
        return;
      }
      case 'read': {
        const mt = m.slots.get(op.x);
        const t = this.txns.get(op.x);
        if (mt === undefined || t === undefined || mt.state !== 'live' || !m.dictExists(op.d)) return;
        const d = await this.dict(op.d);
        let got: Uint8Array | undefined;
        let refused = false;
        try {
          got = await t.get(d, keyBytes(op.k));
        } catch (err) {
          if (!(err instanceof LockConflictError)) throw err;
          refused = true;
        }
        const lockProblem = this.history.checkReadLock(op.x, op.d, op.k, refused, m.lockedKeys(op.x).has(`${op.d}:${op.k}`));
        if (lockProblem !== null) this.fail(lockProblem);
        if (refused) return;
        const problem = this.history.checkRead(op.x, op.d, op.k, got === undefined ? null : Number(dec.decode(got)));
        if (problem !== null) this.fail(problem);
        return;
      }
      case 'put':
      case 'del': {
        const mt = m.slots.get(op.x);
        const t = this.txns.get(op.x);
        if (mt === undefined || t === undefined || mt.state !== 'live' || !m.dictExists(op.d)) return;
        if (m.lockedKeys(op.x).has(`${op.d}:${op.k}`)) return;
        const d = await this.dict(op.d);
        const write = op.t === 'put' ? () => t.put(d, keyBytes(op.k), valueBytes(op.v)) : () => t.del(d, keyBytes(op.k));
        if (await this.readLockedWrite(op.x, op.d, op.k, write)) return;
        if (await this.refusedWrite(op.x, op.d, op.k, write)) return;
        mt.writes.push({ d: op.d, k: op.k, v: op.t === 'put' ? op.v : null });
        return;
      }
      case 'update': {
        const mt = m.slots.get(op.x);
        const t = this.txns.get(op.x);
        if (mt === undefined || t === undefined || mt.state !== 'live' || !m.dictExists(op.d)) return;
        if (m.lockedKeys(op.x).has(`${op.d}:${op.k}`)) return;
        const d = await this.dict(op.d);
        const write = () => t.update(d, keyBytes(op.k), valueBytes(op.n), 'add');
        if (await this.readLockedWrite(op.x, op.d, op.k, write)) return;
        if (await this.refusedWrite(op.x, op.d, op.k, write)) return;
        mt.writes.push({ d: op.d, k: op.k, v: op.n, add: true });
        return;
      }
      case 'autoupdate': {
        if (!m.dictExists(op.d) || m.lockedKeys().has(`${op.d}:${op.k}`)) return;
        const d = await this.dict(op.d);
        if (await this.readLockedWrite(undefined, op.d, op.k, () => this.e.update(d, keyBytes(op.k), valueBytes(op.n), 'add'))) return;
        const i = m.addCommit({ writes: [{ d: op.d, k: op.k, v: op.n, add: true }], creates: [], label: 'autoupdate' });
        await this.e.update(d, keyBytes(op.k), valueBytes(op.n), 'add');
        this.ackCommit(i);
        return;
      }
      case 'commit':
      case 'abort': {
        const mt = m.slots.get(op.x);
        const t = this.txns.get(op.x);
        if (mt === undefined || t === undefined || mt.state !== 'live') return;
        this.history.end(op.x);
        if (op.t === 'commit') {
          const i = m.addCommit({ writes: mt.writes, creates: [], label: `x${op.x}` });
          m.slots.delete(op.x);
          await t.commit();
          if (mt.writes.length > 0) this.ackCommit(i);
        } else {
          m.slots.delete(op.x);
          await t.abort();
        }
        this.txns.delete(op.x);
        return;
      }
      case 'prepare': {
        const mt = m.slots.get(op.x);
        const t = this.txns.get(op.x);
        if (mt === undefined || t === undefined || mt.state !== 'live' || mt.writes.length === 0) return;
        const n = m.commits.length;
        this.history.prepared(op.x, t.id);
        m.slots.delete(op.x);
        this.txns.delete(op.x);
        m.prepared.set(t.id, { writes: mt.writes, acked: false });
        await t.prepare(XA);
        m.prepared.get(t.id)!.acked = true;
        m.markDurable(n);
        return;
      }
      case 'resolve': {
        const first = [...m.prepared.keys()][0];
        if (first === undefined) return;
        const p = m.prepared.get(first)!;
        const t = this.e.preparedTransaction(first);
        m.prepared.delete(first);
        const commitIndex = op.commit ? m.addCommit({ writes: p.writes, creates: [], label: `prepared ${first}` }) : -1;
        this.resolving.set(first, { writes: p.writes, commit: op.commit, commitIndex });
        if (op.commit) await t.commit();
        else await t.abort();
        this.history.resolved(first);
        // Kept until the next verification: an xabort (or a commit not yet durable) can be lost
        // at a crash, and then the transaction is legitimately prepared again.
        if (op.commit) this.ackCommit(commitIndex);
        return;
      }
      case 'autoput':
      case 'autodel': {
        if (!m.dictExists(op.d) || m.lockedKeys().has(`${op.d}:${op.k}`)) return;
        const d = await this.dict(op.d);
        const v = op.t === 'autoput' ? op.v : null;
        const write = () => (v === null ? this.e.del(d, keyBytes(op.k)) : this.e.put(d, keyBytes(op.k), valueBytes(v)));
        if (await this.readLockedWrite(undefined, op.d, op.k, write)) return;
        const i = m.addCommit({ writes: [{ d: op.d, k: op.k, v }], creates: [], label: op.t });
        await write();
        this.ackCommit(i);
        return;
      }
      case 'checkpoint':
        await this.settleBackground();
        await this.checkpoint(undefined);
        return;
      case 'checkpoint-client':
        await this.settleBackground();
        await this.checkpoint(op);
        return;
      case 'checkpoint-bg': {
        if (this.bg !== null) return;
        const n = m.commits.length;
        const promise = this.e.checkpoint().then(() => m.markDurable(n));
        // Keep the rejection observed; settleBackground rethrows it.
        promise.catch(() => undefined);
        this.bg = { promise, commitsAtStart: n };
        return;
      }
      case 'advance':
        await this.clock.advance(op.ms);
        return;
      case 'crash':
        await this.crashAndRecover(op.mode);
        return;
      case 'crash-at-io':
        this.disk.crashAtIo(this.disk.ioOps() + op.n);
        return;
      case 'crash-at': {
        if (op.io <= this.disk.ioOps()) return;
        const off = this.disk.onIo((ev) => {
          if (ev.seq !== op.io) return;
          off();
          this.seededCrash = { seed: op.seed, mode: op.mode };
          throw new SimulatedCrash(ev.seq, `simulated crash at I/O #${ev.seq} (${ev.op} ${ev.path})`);
        });
        return;
      }
      case 'crash-at-hook':
        this.armHook(op.hook);
        return;
      case 'reopen': {
        await this.settleBackground();
        // A reopen is a clean restart: the model drops the open transactions, so close aborts them.
        await this.e.close({ abortLive: true });
        this.env = undefined;
        this.txns.clear();
        m.dropOpenTxns();
        this.history.forget();
        m.markDurable(m.commits.length);
        await this.open(op.mode, false);
        await this.verify('clean reopen');
        return;
      }
    }
  }

  /**
   * Run a transaction's write; returns true when it was refused as a snapshot conflict. The
   * history checker says whether the refusal (or its absence) was right.
   */
  private async refusedWrite(x: number, d: number, k: number, write: () => Promise<void>): Promise<boolean> {
    let refused = false;
    try {
      await write();
    } catch (err) {
      if (!(err instanceof SnapshotConflictError)) throw err;
      refused = true;
    }
    const problem = this.history.checkWrite(x, d, k, refused);
    if (problem !== null) this.fail(problem);
    return refused;
  }

  /**
   * A write of (d, k) by slot x (an autocommit write when undefined) to a key a serializable
   * transaction other than x has read: run it, it must be refused (history checker). Returns
   * true when the key was so locked (the write was refused and is done with); false when no
   * read lock stands in its way.
   */
  private async readLockedWrite(x: number | undefined, d: number, k: number, write: () => Promise<void>): Promise<boolean> {
    if (this.history.readLockHolders(d, k, x).length === 0) return false;
    let refused = false;
    try {
      await write();
    } catch (err) {
      if (!(err instanceof LockConflictError) && !(err instanceof SnapshotConflictError)) throw err;
      refused = true;
    }
    const problem = this.history.checkLockedWrite(x, d, k, refused);
    if (problem !== null) this.fail(problem);
    return true;
  }

  private armHook(hook: CrashHookName): void {
    this.armedHook = hook;
    this.hooks[hook] = () => {
      delete this.hooks[hook];
      this.armedHook = undefined;
      // Halt the disk: every later I/O of every task fails, as at a power cut.
      this.disk.crashAtIo(this.disk.ioOps() + 1);
      throw new SimulatedCrash(this.disk.ioOps(), `simulated crash at checkpoint hook ${hook}`);
    };
  }

  /** Wait for a background checkpoint; its SimulatedCrash is the crash of the whole machine. */
  private async settleBackground(): Promise<void> {
    const bg = this.bg;
    if (bg === null) return;
    this.bg = null;
    await bg.promise;
  }

  private async checkpoint(client: Extract<Op, { t: 'checkpoint-client' }> | undefined): Promise<void> {
    const m = this.model;
    const n = m.commits.length;
    const before = m.stateAfter(n);
    const usesClient = client !== undefined && m.dictExists(client.d) && !m.lockedKeys().has(`${client.d}:${client.k}`) && this.history.readLockHolders(client.d, client.k).length === 0;
    if (usesClient && this.armedHook !== 'afterBegin') {
      const d = await this.dict(client.d);
      this.hooks.afterBegin = async () => {
        delete this.hooks.afterBegin;
        const i = m.addCommit({ writes: [{ d: client.d, k: client.k, v: client.v }], creates: [], label: 'client during checkpoint' });
        await this.e.put(d, keyBytes(client.k), valueBytes(client.v));
        this.ackCommit(i);
      };
    }
    try {
      await this.e.checkpoint();
    } finally {
      if (usesClient && this.armedHook !== 'afterBegin') delete this.hooks.afterBegin;
    }
    m.markDurable(n);
    if (this.options.imageChecks !== false) await this.checkImage(before, n);
  }

  /** The image oracle (see the top of this file). */
  private async checkImage(expected: ModelState, n: number): Promise<void> {
    const copy = this.disk.snapshot();
    copy.crash({ mode: 'drop-all' });
    let actual: ModelState;
    const env = await Env.open(ENV_DIR, { storage: copy, clock: new VirtualClock(), readOnly: true });
    try {
      actual = await readContents(env, (msg) => this.fail(`checkpoint image: ${msg}`));
    } finally {
      await env.close().catch(() => undefined);
    }
    this.imageChecks++;
    if (!statesEqual(expected, actual)) {
      this.fail(`the checkpoint image differs from the committed state at its begin (after ${n} commits): expected ${formatState(expected)}, image holds ${formatState(actual)}`);
    }
  }

  // ------------------------------------------------------------------ crash and verify

  async crashAndRecover(mode: DurabilityMode, crashSeed?: number, withoutJitter = false): Promise<void> {
    this.opening++;
    const jitter = this.disk.ioJitterTurns();
    if (withoutJitter) this.disk.setIoJitter(0);
    try {
      await this.crashAndRecoverInner(mode, crashSeed);
    } finally {
      this.opening--;
      this.disk.setIoJitter(jitter);
    }
  }

  private async crashAndRecoverInner(mode: DurabilityMode, crashSeed?: number): Promise<void> {
    // Halt the disk first so a background task cannot write after the crash point.
    if (!this.disk.isHalted()) this.disk.crashAtIo(this.disk.ioOps() + 1);
    this.env?.abandon();
    const bg = this.bg;
    this.bg = null;
    if (bg !== null) await bg.promise.catch(() => undefined);
    const report = this.disk.crash({ seed: crashSeed ?? this.crashRng.nextU32() });
    this.crashStates++;
    this.env = undefined;
    this.txns.clear();
    this.model.dropOpenTxns();
    this.history.forget();
    if (this.armedHook !== undefined) {
      delete this.hooks[this.armedHook];
      this.armedHook = undefined;
    }
    let facts: RecoveredFacts | undefined;
    try {
      await this.open(mode, true);
      facts = await this.readFacts(this.e);
      this.checkFacts(facts, 'recovery');
    } catch (err) {
      if (err instanceof ViolationFound) this.options.onCrashState?.(stateTrace(report, facts?.contents, err.message));
      throw err;
    }
    this.options.onCrashState?.(stateTrace(report, facts.contents, null));
  }

  /**
   * A forked crash state: crash this runner's disk (it stands at a captured point), recover
   * and check, as crashAndRecover does, but read what recovery produced as facts and leave
   * no environment open. `facts` (from a recovery of an identical crashed disk) replaces
   * the recovery; `keyOf` is called on the crashed disk before recovering, to file the facts.
   * Returns the facts it used; a violation is thrown as by every check.
   */
  async crashForked(
    mode: DurabilityMode | undefined,
    crashSeed: number | undefined,
    reuse?: (crashed: SimStorage, mode: DurabilityMode) => { facts?: RecoveredFacts; store?: (f: RecoveredFacts) => void },
    trace?: (line: string) => void,
  ): Promise<{ facts: RecoveredFacts; reused: boolean; report: CrashReport }> {
    // The same draws, in the same order, as an armed crash: the mode (guard), then the seed.
    const m = mode ?? this.pickMode();
    const report = this.disk.crash({ seed: crashSeed ?? this.crashRng.nextU32() });
    this.crashStates++;
    this.txns.clear();
    this.model.dropOpenTxns();
    const known = reuse?.(this.disk, m);
    const facts = known?.facts ?? (await this.recoverFacts(m));
    if (known?.facts === undefined) known?.store?.(facts);
    try {
      this.checkFacts(facts, 'recovery');
    } catch (err) {
      if (err instanceof ViolationFound) trace?.(stateTrace(report, facts.openViolation !== undefined ? undefined : facts.contents, err.message));
      throw err;
    }
    trace?.(stateTrace(report, facts.contents, null));
    return { facts, reused: known?.facts !== undefined, report };
  }

  /** True when a crash at the present I/O call replays from a script: an operation is running and no open is under way. */
  forkable(): boolean {
    return this.opIndex >= 0 && this.opening === 0 && this.stopped === undefined;
  }

  /** Open with recovery and read the facts (the environment is abandoned afterwards). */
  private async recoverFacts(mode: DurabilityMode): Promise<RecoveredFacts> {
    try {
      await this.open(mode, true);
    } catch (err) {
      if (err instanceof ViolationFound) return { openViolation: err.message, contents: new Map(), prepared: [], liveTxns: 0, preparedTxns: 0 };
      throw err;
    }
    try {
      return await this.readFacts(this.e);
    } finally {
      this.env?.abandon();
      this.env = undefined;
    }
  }

  /** What an environment holds after recovery (see RecoveredFacts). */
  private async readFacts(env: Env): Promise<RecoveredFacts> {
    let contents: RecoveredFacts['contents'];
    try {
      contents = await readContents(env, (msg) => {
        throw new ViolationFound(msg);
      });
    } catch (err) {
      if (!(err instanceof ViolationFound)) throw err;
      contents = { error: err.message };
    }
    const st = env.status();
    const facts: RecoveredFacts = { contents, prepared: env.listPreparedTransactions().map((p) => p.id), liveTxns: st.liveTxns, preparedTxns: st.preparedTxns };
    try {
      for (const d of env.dicts.values()) d.file.file.blockTable.checkInvariants();
      env.rollback?.file.blockTable.checkInvariants();
      this.disk.checkInvariants();
    } catch (err) {
      facts.structure = describe(err);
    }
    return facts;
  }

  async verify(when: string): Promise<void> {
    this.checkFacts(await this.readFacts(this.e), when);
  }

  /** The oracles of a recovery (see the top of this file), on what it produced. */
  private checkFacts(facts: RecoveredFacts, when: string): void {
    if (facts.openViolation !== undefined) this.fail(facts.openViolation);
    const m = this.model;
    if (!(facts.contents instanceof Map)) this.fail(`after ${when}: ${facts.contents.error}`);
    const actual = facts.contents;
    const total = m.commits.length;
    const durable = m.durable;
    const candidates = total - durable + 1;
    // A prepared transaction whose commit was in flight and that is still prepared did not
    // commit: the history settles on a prefix before its commit (and its commit must be lost).
    const listed = new Set(facts.prepared);
    let upTo = total;
    for (const [id, r] of this.resolving) if (r.commit && listed.has(id) && r.commitIndex < upTo) upTo = r.commitIndex;
    if (upTo < total && m.matchingPrefix(actual, upTo) === null && m.matchingPrefix(actual) !== null) {
      const [id] = [...this.resolving].find(([i, r]) => r.commit && listed.has(i) && r.commitIndex === upTo)!;
      this.fail(`after ${when} prepared transaction ${id} is both committed and still prepared`);
    }
    const settled = m.settle(actual, upTo);
    if (settled === null) {
      const newest = formatState(m.stateAfter(total));
      const oldest = formatState(m.stateAfter(durable));
      this.fail(
        `after ${when} the contents match no allowed commit prefix (${candidates} allowed, ${durable} commits acknowledged durable of ${total}): ` +
          `recovered ${formatState(actual)}; durable prefix gives ${oldest}; all commits give ${newest}`,
      );
    }
    // Prepared transactions.
    for (const [id, r] of this.resolving) {
      const committed = r.commit && r.commitIndex < settled;
      if (listed.has(id) && committed) this.fail(`after ${when} prepared transaction ${id} is both committed and still prepared`);
      if (listed.has(id)) m.prepared.set(id, { writes: r.writes, acked: true });
    }
    this.resolving.clear();
    for (const [id, p] of m.prepared) {
      if (!listed.has(id)) {
        if (p.acked) this.fail(`after ${when} acknowledged prepared transaction ${id} is no longer prepared`);
        m.prepared.delete(id);
      } else {
        p.acked = true;
      }
    }
    for (const id of listed) if (!m.prepared.has(id)) this.fail(`after ${when} transaction ${id} is prepared, but the program never prepared it`);
    if (facts.liveTxns !== 0) this.fail(`after ${when} ${facts.liveTxns} transaction(s) are still live (recovery must abort them)`);
    if (facts.preparedTxns !== listed.size) this.fail(`after ${when} ${facts.preparedTxns} transactions are in the prepared state but ${listed.size} are listed as prepared (open transactions were not aborted)`);
    if (facts.structure !== undefined) this.fail(`after ${when} a structural invariant fails: ${facts.structure}`);
  }
}

/** A line naming one crash state's outcome: the crash's seed and fates, what recovery produced, the violation. */
export function stateTrace(report: CrashReport, contents: ModelState | { error: string } | undefined, violation: string | null): string {
  const c = contents === undefined ? '-' : contents instanceof Map ? formatState(contents) : `error ${contents.error}`;
  return `seed ${report.seed} kept ${report.writesKept} dropped ${report.writesDropped} torn ${report.writesTorn}/${report.sectorsLost} dirlost ${report.dirOpsLost} gone ${report.filesGone} -> ${c}${violation !== null ? ` VIOLATION ${violation}` : ''}`;
}

/** Every user dictionary d<N> of env and its rows, as model state. */
export async function readContents(env: Env, fail: (msg: string) => never): Promise<ModelState> {
  const out: ModelState = new Map();
  for (const name of await env.listDictionaries()) {
    const m = /^d(\d+)$/.exec(name);
    if (m === null) fail(`unexpected dictionary ${JSON.stringify(name)}`);
    const d = await env.openDictionary(name);
    const rows = new Map<number, number>();
    for (const e of await d.committedRange({})) {
      const k = /^k(\d+)$/.exec(dec.decode(e.key));
      const v = dec.decode(e.value);
      if (k === null || !/^\d+$/.test(v)) fail(`unexpected row ${dec.decode(e.key)}=${v} in ${name}`);
      rows.set(Number(k[1]), Number(v));
    }
    out.set(Number(m[1]), rows);
  }
  return out;
}

export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : err.name + ': '}${err.message.split('\n')[0]}`;
  return String(err);
}
