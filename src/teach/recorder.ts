/**
 * The deterministic step recorder: runs a teaching script on the real engine (Env) over a
 * SimStorage and a VirtualClock, and turns every trace event (cachetable, checkpointer,
 * logger, recovery narration) into a step: the event, its narration and a snapshot of the
 * state right after it. The front ends (the terminal tour and the page) only read the steps.
 *
 * Faults: the machine can stop at any step (crashAt: the disk halts at that event, so no later
 * I/O reaches it, then the crash decides the fate of unsynced writes: kept, dropped, or torn),
 * a header slot can be corrupted after the crash, and the script's own `crash` operations
 * (between operations or at a checkpoint's crash hook) do the same. After each crash the
 * environment is reopened: recovery's narration becomes steps, and a result step compares the
 * recovered contents with what was acknowledged as committed.
 *
 * Invariants:
 *  - Deterministic: the same RunSpec gives the same steps (same events, same snapshots); the
 *    disk, its crash fates and the crash seeds come from spec.seed only, the clock never moves
 *    by itself and no host timer or randomness is consulted (tests compare two runs).
 *  - A prefix is stable: the steps before step n do not depend on anything after it, so
 *    "back" is a look-up and a fork (same operations up to the one running at n, then new
 *    ones) reproduces steps 0..n exactly.
 *  - Listeners only observe: a snapshot reads state, and the crash at a step only arms the
 *    disk (crashAtIo), so the engine itself meets the crash at its next I/O.
 *  - A run always ends: an operation that neither settles nor does I/O for STALL_TURNS host
 *    turns is reported as a stalled step and the run stops there.
 */
import { TokusimError } from '../base/errors.js';
import type { CachetableEvent } from '../cachetable/events.js';
import type { CheckpointEvent, CrashHookName } from '../checkpoint/events.js';
import { CRASH_HOOK_NAMES } from '../checkpoint/events.js';
import type { GlobalLockName } from '../checkpoint/locks.js';
import { chooseHeader, validateHeaderSlot, HEADER_SLOT_RESERVE, MAX_LSN } from '../format/ft-header.js';
import type { Xid } from '../format/record-types.js';
import { Env, ROLLBACK_INAME, type Dictionary, type EnvEvent } from '../engine/env.js';
import type { Txn } from '../engine/txn.js';
import type { LogEvent } from '../log/events.js';
import { VirtualClock } from '../storage/clock.js';
import { SimStorage, SimulatedCrash, type CrashReport } from '../storage/sim-storage.js';
import { MachineHalted, joinPath } from '../storage/storage.js';
import { narrateCachetable, narrateCheckpoint, narrateLog, type Narration } from './narrate.js';
import { formatOp, type TeachOp } from './ops.js';
import { DEFAULT_OPTIONS, type ScenarioOptions } from './scenarios.js';
import { capture, envDictionaries, newDiskCache, type Phase, type TeachState } from './snapshot.js';

/** The directory of the simulated environment. */
export const TEACH_DIR = '/env';
/** The user dictionary every script writes to. */
export const TEACH_DICTIONARY = 'd';
const STALL_TURNS = 200;

/** How unsynced writes fare at a crash: all kept (a clean power-off), all lost, or seeded drops and torn sectors. */
export type UnsyncedFate = 'keep' | 'drop' | 'torn';

/** Faults injected into a run. */
export interface TeachFaults {
  /** Stop the machine at this step (inside whatever runs then). */
  crashAt?: number;
  /** What a crash does to unsynced writes (default 'drop'). */
  unsynced?: UnsyncedFate;
  /** After the first crash, corrupt this header slot of this dictionary file (an iname such as tokudb.rollback or d_3.tokudb). */
  flip?: { file: string; slot: 0 | 1 };
}

/** Everything that determines a run. */
export interface RunSpec {
  /** The scenario's name (for display and the URL; the ops are what runs). */
  scenario: string;
  seed: number;
  ops: TeachOp[];
  faults: TeachFaults;
  options?: Partial<ScenarioOptions>;
}

/** Where a step comes from. */
export type StepSource = 'op' | 'cachetable' | 'checkpoint' | 'log' | 'recovery' | 'crash' | 'result';

/** One step of a run. */
export interface TeachStep {
  index: number;
  /** The script operation running (index into spec.ops; -1 while the environment opens). */
  opIndex: number;
  source: StepSource;
  /** The event's type (e.g. pair-cloned, stage, xcommit for a logged record). */
  kind: string;
  /** The event as JSON (64-bit numbers as strings). */
  event: Record<string, unknown>;
  narration: Narration;
  /** True where a checkpoint stage, a crash or a recovery starts (the "next stage" key stops here). */
  stageStart: boolean;
  state: TeachState;
}

/** What a header choice at recovery was. */
export interface HeaderChoice {
  file: string;
  slot: 0 | 1 | null;
  maxAcceptableLsn: string;
  why: string;
}

/** The outcome of one crash and recovery. */
export interface RecoveryOutcome {
  epoch: number;
  crash: CrashReport;
  headerChoices: HeaderChoice[];
  turningPointLsn: string | null;
  committedBefore: Record<string, string>;
  inFlight: Array<Record<string, string | null>>;
  recovered: Record<string, string> | null;
  preparedAfter: string[];
  abortedByRecovery: string[];
  verdict: 'ok' | 'lost' | 'failed';
  detail: string;
}

/** A whole run. */
export interface TeachTour {
  spec: RunSpec;
  steps: TeachStep[];
  recoveries: RecoveryOutcome[];
  /** The run ended early (a failed recovery or a stall): why. */
  stopped: string | null;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** JSON-safe copy of an event: bigints as strings, errors as their message, arrays kept. */
export function jsonEvent(e: object): Record<string, unknown> {
  const conv = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return v.message.split('\n')[0];
    if (Array.isArray(v)) return v.map(conv);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x)]));
    return v;
  };
  return conv(e) as Record<string, unknown>;
}

/** Checkpoint records the checkpointer narrates itself; the logger's event for them is not a step of its own. */
const CHECKPOINT_RECORDS = new Set(['begin_checkpoint', 'fassociate', 'xstillopen', 'xstillopenprepared', 'end_checkpoint']);

class Recorder {
  readonly steps: TeachStep[] = [];
  readonly recoveries: RecoveryOutcome[] = [];
  stopped: string | null = null;
  private readonly disk: SimStorage;
  private readonly clock = new VirtualClock();
  private readonly options: ScenarioOptions;
  private env: Env | null = null;
  private dict: Dictionary | null = null;
  private epoch = 0;
  private phase: Phase = 'running';
  private opIndex = -1;
  /** Set once the crash at spec.faults.crashAt is armed: later events are the dying machine's and are not steps. */
  private halted = false;
  private crashedAtStep = false;
  private readonly holders = new Map<GlobalLockName, string[]>();
  private readonly txns = new Map<string, Txn>();
  private readonly names = new Map<bigint, string>();
  private readonly recordCache = new Map<string, TeachState['log']['records'][number]>();
  private readonly diskCache = newDiskCache();
  private dictPaths: string[] = [];
  private logPaths: string[] = [];
  /** Operations to run at a crash hook of the next checkpoint. */
  private readonly during = new Map<CrashHookName, TeachOp[]>();
  /** Committed contents as acknowledged (commit() returned). */
  private committed = new Map<string, string>();
  /** Write sets by transaction name, until commit or abort. */
  private readonly pending = new Map<string, Map<string, string | null>>();
  /** Write sets of commits started but not acknowledged. */
  private readonly committing = new Set<Map<string, string | null>>();
  private flipDone = false;

  constructor(readonly spec: RunSpec) {
    this.options = { ...DEFAULT_OPTIONS, ...spec.options };
    this.disk = new SimStorage({ seed: spec.seed >>> 0 || 1 });
  }

  // ------------------------------------------------------------------ steps

  private snapshot(): TeachState {
    return capture({
      env: this.env,
      disk: this.disk,
      epoch: this.epoch,
      phase: this.phase,
      dictPaths: this.dictPaths,
      logPaths: this.logPaths,
      holders: this.holders,
      txnName: (id) => this.names.get(id) ?? `txn ${id}`,
      recordCache: this.recordCache,
      diskCache: this.diskCache,
    });
  }

  private step(source: StepSource, kind: string, event: object, narration: Narration, stageStart = false): void {
    if (this.halted || this.stopped !== null) return;
    const index = this.steps.length;
    this.steps.push({ index, opIndex: this.opIndex, source, kind, event: jsonEvent(event), narration, stageStart, state: this.snapshot() });
    if (this.spec.faults.crashAt === index && this.phase === 'running' && this.env !== null) {
      // Stop the machine here: the engine meets the crash at its next I/O call.
      this.halted = true;
      this.crashedAtStep = true;
      if (!this.disk.isHalted()) this.disk.crashAtIo(this.disk.ioOps() + 1);
    }
  }

  private onCachetable = (e: CachetableEvent): void => {
    if (e.type === 'lock-taken') return;
    this.step('cachetable', e.type, e, narrateCachetable(e));
  };

  private onCheckpoint = (e: CheckpointEvent): void => {
    if (e.type === 'global-lock') {
      const list = this.holders.get(e.lock) ?? [];
      if (e.action === 'taken') list.push(e.holder);
      else {
        const i = list.indexOf(e.holder);
        if (i >= 0) list.splice(i, 1);
      }
      this.holders.set(e.lock, list);
    }
    const kind = e.type === 'record-logged' ? e.record : e.type;
    this.step('checkpoint', kind, e, narrateCheckpoint(e), e.type === 'stage' && e.stage !== 'waiting-for-locks');
  };

  private onLog = (e: LogEvent): void => {
    if (e.type === 'record-logged' && CHECKPOINT_RECORDS.has(e.recordType)) return;
    this.step('log', e.type === 'record-logged' ? e.recordType : e.type, e, narrateLog(e));
  };

  private onEnv = (e: EnvEvent): void => {
    if (e.type === 'recovery') this.step('recovery', 'recovery', e, { title: e.line, why: recoveryWhy(e.line) }, /^scanning|^turning/.test(e.line));
    else if (e.type === 'log-repaired') this.step('recovery', 'log-repaired', e, { title: `log tail repaired: ${e.repair.file ?? ''}`, why: 'A torn last entry is cut off; replay ends at the last complete one.' }, true);
  };

  private attach(env: Env): void {
    env.ct.setListener(this.onCachetable);
    env.checkpointer?.setListener(this.onCheckpoint);
    env.logWriter?.setListener(this.onLog);
    this.logPaths = env.logWriter?.logFiles().map((f) => f.path) ?? this.logPaths;
    this.refreshPaths(env);
  }

  private refreshPaths(env: Env): void {
    for (const d of envDictionaries(env)) if (!this.dictPaths.includes(d.name)) this.dictPaths.push(d.name);
  }

  // ------------------------------------------------------------------ the environment

  private hooks(): Partial<Record<CrashHookName, (ctx: { name: CrashHookName }) => Promise<void>>> {
    const out: Partial<Record<CrashHookName, (ctx: { name: CrashHookName }) => Promise<void>>> = {};
    for (const name of CRASH_HOOK_NAMES) {
      out[name] = async () => {
        const ops = this.during.get(name);
        if (ops === undefined || ops.length === 0 || this.halted) return;
        this.during.delete(name);
        for (const op of ops) await this.runOp(op, `inside the checkpoint, at ${name}: `);
      };
    }
    return out;
  }

  private async open(): Promise<void> {
    this.env = await Env.open(TEACH_DIR, {
      storage: this.disk,
      clock: this.clock,
      owner: 'tokusim-teach',
      durability: 'sync',
      checkpointPeriodMs: 0,
      maxEntries: this.options.maxEntries,
      lgMax: this.options.lgMax,
      cloneOnWrite: this.options.cloneOnWrite,
      checkpointHooks: this.hooks(),
      onEvent: this.onEnv,
    });
  }

  // ------------------------------------------------------------------ operations

  private txn(name: string): Txn {
    const t = this.txns.get(name);
    if (t === undefined) throw new TokusimError('bad-argument', `no live transaction named ${name}`, { expected: `begin ${name} first`, actual: `${[...this.txns.keys()].join(', ') || 'none'} live` });
    return t;
  }

  private begin(name: string): Txn {
    const env = this.env!;
    const t = env.begin();
    this.txns.set(name, t);
    this.names.set(t.id, name);
    this.pending.set(name, new Map());
    return t;
  }

  private async write(name: string, key: string, value: string | null): Promise<void> {
    const t = this.txn(name);
    if (value === null) await t.del(this.dict!, enc.encode(key));
    else await t.put(this.dict!, enc.encode(key), enc.encode(value));
    this.pending.get(name)?.set(key, value);
  }

  private async finish(name: string, how: 'commit' | 'abort' | 'prepare'): Promise<void> {
    const t = this.txn(name);
    const ws = this.pending.get(name) ?? new Map<string, string | null>();
    if (how === 'prepare') {
      const xid: Xid = { formatID: 1, gtridLength: name.length, bqualLength: 0, data: enc.encode(name) };
      await t.prepare(xid);
      return;
    }
    this.txns.delete(name);
    this.pending.delete(name);
    if (how === 'abort') {
      await t.abort();
      return;
    }
    this.committing.add(ws);
    await t.commit();
    this.committing.delete(ws);
    for (const [k, v] of ws) {
      if (v === null) this.committed.delete(k);
      else this.committed.set(k, v);
    }
  }

  private async runOp(op: TeachOp, prefix = ''): Promise<void> {
    if (this.halted) return;
    if (op.kind === 'during') {
      this.during.set(op.hook, [...(this.during.get(op.hook) ?? []), op.op]);
      this.step('op', 'during', { op: formatOp(op) }, { title: `client: ${formatOp(op)}`, why: `Armed for the next checkpoint: when it reaches the crash hook ${op.hook}, it pauses while "${formatOp(op.op)}" runs.` });
      return;
    }
    this.step('op', op.kind, { op: formatOp(op) }, { title: `${prefix}client: ${formatOp(op)}`, why: opWhy(op) }, op.kind === 'checkpoint');
    const env = this.env!;
    switch (op.kind) {
      case 'put':
      case 'del': {
        const value = op.kind === 'put' ? op.value : null;
        if (op.txn !== undefined) {
          await this.write(op.txn, op.key, value);
          return;
        }
        const name = `auto${this.steps.length}`;
        this.begin(name);
        await this.write(name, op.key, value);
        await this.finish(name, 'commit');
        return;
      }
      case 'begin':
        if (this.txns.has(op.txn)) throw new TokusimError('bad-argument', `transaction ${op.txn} is already live`, { expected: 'a new name', actual: op.txn });
        this.begin(op.txn);
        return;
      case 'commit':
      case 'abort':
      case 'prepare':
        await this.finish(op.txn, op.kind);
        return;
      case 'checkpoint':
        await env.checkpoint();
        return;
      case 'evict': {
        const ct = env.ct;
        const limit = ct.memoryLimit;
        ct.memoryLimit = 0;
        try {
          await ct.evict();
        } finally {
          ct.memoryLimit = limit;
        }
        return;
      }
      case 'crash':
        this.halted = true;
        if (!this.disk.isHalted()) this.disk.crashAtIo(this.disk.ioOps() + 1);
        // Thrown so that a crash at a checkpoint hook stops the checkpoint where it is.
        throw new SimulatedCrash(this.disk.ioOps(), `crash operation${prefix !== '' ? ` ${prefix.trim()}` : ''}`);
    }
  }

  /** Wait for p; a promise that neither settles nor lets the disk do I/O for STALL_TURNS host turns is a stall. */
  private async settle(p: Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown }> {
    let state: { ok: true } | { ok: false; error: unknown } | undefined;
    p.then(
      () => (state = { ok: true }),
      (error: unknown) => (state = { ok: false, error }),
    );
    let idle = 0;
    let lastIo = this.disk.ioOps();
    for (let turn = 0; state === undefined; turn++) {
      await new Promise<void>((r) => setTimeout(r, 0));
      if (this.disk.ioOps() !== lastIo) {
        lastIo = this.disk.ioOps();
        idle = 0;
      } else if (++idle > STALL_TURNS) {
        return { ok: false, error: new TokusimError('invariant', `the operation made no progress for ${STALL_TURNS} turns (a stall)`) };
      }
    }
    return state;
  }

  // ------------------------------------------------------------------ crash and recovery

  private async crashAndRecover(reason: string): Promise<void> {
    const env = this.env!;
    this.halted = false;
    this.phase = 'crashed';
    if (!this.disk.isHalted()) this.disk.crashAtIo(this.disk.ioOps() + 1);
    this.logPaths = env.logWriter?.logFiles().map((f) => f.path) ?? this.logPaths;
    this.refreshPaths(env);
    env.abandon();
    this.env = null;
    const fate = this.spec.faults.unsynced ?? 'drop';
    const crashSeed = (this.spec.seed * 7919 + this.epoch + 1) >>> 0;
    const report =
      fate === 'keep'
        ? this.disk.crash({ seed: crashSeed, mode: 'keep-all' })
        : fate === 'drop'
          ? this.disk.crash({ seed: crashSeed, mode: 'drop-all' })
          : this.disk.crash({ seed: crashSeed, mode: 'faults', faults: { dropUnsynced: true, tornWrites: true, reorder: false, loseDirEntries: false } });
    this.epoch++;
    this.diskCache.key = '';
    this.holders.clear();
    this.step('crash', 'crash', { reason, ...report }, {
      title: `the machine stops (${reason}); unsynced writes: ${report.writesKept} kept, ${report.writesDropped} dropped, ${report.writesTorn} torn`,
      why: fate === 'keep' ? 'A clean power-off: everything written reaches the disk.' : fate === 'drop' ? 'Everything not fsynced is lost: only durable bytes remain.' : 'Each unsynced write is kept, dropped or torn at a sector boundary, as the seed decides.',
    }, true);
    const flip = this.spec.faults.flip;
    if (flip !== undefined && !this.flipDone) {
      this.flipDone = true;
      const path = joinPath(TEACH_DIR, flip.file);
      const bytes = this.disk.fileBytes(path);
      const at = (flip.slot === 0 ? 0 : HEADER_SLOT_RESERVE) + 36;
      if (bytes !== undefined && bytes.length > at) {
        const bits = this.disk.flipBits(path, at, 1, this.spec.seed);
        this.diskCache.key = '';
        this.step('crash', 'bit-flip', { file: path, slot: flip.slot, offset: at, bits }, { title: `${bits} bit(s) flipped in ${flip.file}, header slot ${flip.slot} (byte ${at}, in checkpoint_lsn)`, why: 'The medium went bad under one header: its checksum no longer matches, so a reader must use the other slot.' });
      } else {
        this.step('crash', 'bit-flip', { file: path, slot: flip.slot, offset: at, bits: 0 }, { title: `no bit flipped: ${flip.file} has no header slot ${flip.slot} on disk`, why: 'The slot was never written, so there is nothing to corrupt.' });
      }
    }
    // The header slots as the crash left them, before recovery's own checkpoint rewrites them.
    const slotsAfterCrash = this.dictPaths
      .map((p) => ({ p, bytes: this.disk.fileBytes(p) }))
      .filter((x): x is { p: string; bytes: Uint8Array } => x.bytes !== undefined)
      .map(({ p, bytes }) => ({ p, s0: validateHeaderSlot(bytes.subarray(0, HEADER_SLOT_RESERVE), 0, p), s1: validateHeaderSlot(bytes.subarray(HEADER_SLOT_RESERVE, 2 * HEADER_SLOT_RESERVE), 1, p) }));
    const committedBefore = Object.fromEntries(this.committed);
    const inFlight = [...this.committing].map((ws) => Object.fromEntries(ws));
    const liveNames = [...this.txns.keys()];
    const carried = new Map(this.pending);
    this.txns.clear();
    this.pending.clear();
    this.committing.clear();
    this.during.clear();

    this.phase = 'recovering';
    this.step('recovery', 'recovery-start', {}, { title: 'the environment is opened again: recovery runs', why: 'The log does not end with a clean shutdown, so recovery scans backward for the last complete checkpoint, then replays forward from its begin (recovery.md §4–§8).' }, true);
    const outcome: RecoveryOutcome = {
      epoch: this.epoch, crash: report, headerChoices: [], turningPointLsn: null, committedBefore, inFlight, recovered: null,
      preparedAfter: [], abortedByRecovery: [], verdict: 'failed', detail: '',
    };
    this.recoveries.push(outcome);
    try {
      await this.open();
    } catch (err) {
      outcome.detail = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      this.step('result', 'recovery-failed', { error: outcome.detail }, { title: `recovery failed: ${outcome.detail}`, why: 'No usable checkpoint could be opened: this is what a real engine reports too (both header slots bad, or the log damaged before the last checkpoint).' }, true);
      this.stopped = `recovery failed: ${outcome.detail}`;
      return;
    }
    const env2 = this.env!;
    const rr = env2.recoveryReport;
    const turning = rr?.turningPointLsn ?? 0n;
    outcome.turningPointLsn = rr !== null ? turning.toString() : null;
    outcome.abortedByRecovery = (rr?.txnsAborted ?? []).map((x) => nameOfXid(x, this.names, liveNames));
    for (const { p, s0, s1 } of slotsAfterCrash) {
      const isRollback = p.endsWith(`/${ROLLBACK_INAME}`);
      const bound = isRollback && turning > 0n ? turning : MAX_LSN;
      let slot: 0 | 1 | null = null;
      let why: string;
      try {
        const ch = chooseHeader(s0, s1, p, bound);
        slot = ch.slot;
        why = `slot ${ch.slot}: count ${ch.header.checkpointCount}, lsn ${ch.header.checkpointLsn}${ch.note !== undefined ? ` (${ch.note})` : ''}${isRollback && turning > 0n ? ` — opened as of the turning point (max_acceptable_lsn ${turning})` : ''}`;
      } catch (err) {
        why = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      }
      outcome.headerChoices.push({ file: p, slot, maxAcceptableLsn: bound === MAX_LSN ? 'MAX_LSN' : bound.toString(), why });
    }
    // Reopen the user dictionary, read what recovery left (not steps of the tour), then
    // carry the prepared transactions over by their XA name.
    this.phase = 'running';
    this.dict = await env2.openDictionary(TEACH_DICTIONARY);
    const reader = env2.begin();
    const rows = await reader.range(this.dict);
    await reader.commit();
    this.attach(env2);
    for (const info of env2.listPreparedTransactions()) {
      const name = dec.decode(info.xid.data);
      const t = env2.preparedTransaction(info.id);
      this.txns.set(name, t);
      this.names.set(t.id, name);
      this.pending.set(name, carried.get(name) ?? new Map());
      outcome.preparedAfter.push(name);
    }
    const recovered = Object.fromEntries(rows.map((r) => [dec.decode(r.key), dec.decode(r.value)]));
    outcome.recovered = recovered;
    const explained = (k: string): boolean => inFlight.some((ws) => (k in ws ? (ws[k] === null ? !(k in recovered) : ws[k] === recovered[k]) : false));
    const keys = new Set([...Object.keys(committedBefore), ...Object.keys(recovered)]);
    const wrong = [...keys].filter((k) => committedBefore[k] !== recovered[k] && !explained(k));
    outcome.verdict = wrong.length === 0 ? 'ok' : 'lost';
    outcome.detail = wrong.length === 0
      ? `every acknowledged commit survived${inFlight.length > 0 ? ` (${inFlight.length} commit(s) in flight at the crash may or may not have)` : ''}`
      : `differs from the acknowledged commits at ${wrong.join(', ')}`;
    this.committed = new Map(Object.entries(recovered));
    this.step('result', 'recovered', jsonEvent(outcome), {
      title: `recovered: turning point ${outcome.turningPointLsn ?? 'none'}; ${outcome.verdict === 'ok' ? 'OK' : 'LOST DATA'}: ${outcome.detail}`,
      why: `Recovered contents ${fmtRows(recovered)}; acknowledged before the crash ${fmtRows(committedBefore)}. Aborted by recovery: ${outcome.abortedByRecovery.join(', ') || 'none'}; still prepared: ${outcome.preparedAfter.join(', ') || 'none'}.`,
    }, true);
  }

  // ------------------------------------------------------------------ the run

  async run(): Promise<void> {
    await this.open();
    // Creating the dictionary is setup, not part of the tour: its events are not steps (its
    // log records are in the log panel from the first step on).
    this.dict = await this.env!.createDictionary(TEACH_DICTIONARY);
    this.attach(this.env!);
    this.step('op', 'open', {}, { title: `environment open on the simulated disk (seed ${this.spec.seed}), dictionary "${TEACH_DICTIONARY}" created`, why: 'Every file the tour shows is on a SimStorage: each write is either durable (fsynced) or not yet, and a crash decides the fate of the rest.' }, true);
    for (let i = 0; i < this.spec.ops.length && this.stopped === null; i++) {
      this.opIndex = i;
      const r = await this.settle(this.runOp(this.spec.ops[i]!));
      if (!r.ok && !(r.error instanceof MachineHalted) && !this.disk.isHalted() && !this.halted) {
        const msg = r.error instanceof Error ? r.error.message.split('\n')[0]! : String(r.error);
        if (r.error instanceof TokusimError && (r.error.kind === 'bad-argument' || r.error.kind === 'lock-conflict')) {
          const why = r.error.kind === 'lock-conflict'
            ? 'Another live transaction holds a row lock on that key: the write is refused at once (no waiting), and the transaction stays live.'
            : 'The operation does not fit the state (a transaction that is not live, or that died in a crash).';
          this.step('result', 'op-refused', { error: msg }, { title: `refused: ${msg}`, why });
          continue;
        }
        this.step('result', 'op-failed', { error: msg }, { title: `failed: ${msg}`, why: 'The engine reported an error; the run stops here.' });
        this.stopped = msg;
        break;
      }
      if (this.halted || this.disk.isHalted()) {
        const reason = this.crashedAtStep ? `at step ${this.spec.faults.crashAt}` : 'crash operation';
        this.crashedAtStep = false;
        await this.crashAndRecover(reason);
      }
    }
    if (this.stopped === null) {
      this.opIndex = this.spec.ops.length - 1;
      this.step('result', 'end', {}, { title: 'end of the operations', why: 'The state once every operation has returned.' }, true);
    }
  }
}

function fmtRows(r: Record<string, string>): string {
  const e = Object.entries(r);
  return e.length === 0 ? '{}' : `{${e.map(([k, v]) => `${k}=${v}`).join(', ')}}`;
}

/** The script's name for a transaction recovery reports by its id ("4", or "4.1" for a child). */
function nameOfXid(x: string, names: ReadonlyMap<bigint, string>, live: readonly string[]): string {
  const root = /^\d+$/.test(x) ? names.get(BigInt(x)) : undefined;
  if (root !== undefined && live.includes(root)) return root;
  return `txn ${x}`;
}

function opWhy(op: TeachOp): string {
  switch (op.kind) {
    case 'put':
    case 'del':
      return op.txn === undefined
        ? 'An autocommit transaction: xbegin is implicit, the write is logged (enq_insert / enq_delete_any) and kept in the rollback node; commit logs xcommit, waits until it is durable, then applies the write to the tree\'s PAIRs.'
        : `Transaction ${op.txn} logs the write and keeps it in its rollback node; the tree changes only at commit.`;
    case 'begin':
      return 'A new root transaction; nothing is logged until it writes.';
    case 'commit':
      return 'xcommit is logged and made durable, then the write set is applied under the multi-operation lock.';
    case 'abort':
      return 'xabort is logged; the write set is dropped.';
    case 'prepare':
      return 'xprepare is logged and made durable: the transaction survives a crash, prepared, until the application commits or aborts it.';
    case 'checkpoint':
      return 'A sharp checkpoint: everything committed before its begin_checkpoint reaches the dictionary files, while clients keep running after begin.';
    case 'evict':
      return 'The evictor runs as if memory were full: every PAIR nobody holds goes, dirty ones written first.';
    case 'crash':
      return 'The machine stops now.';
    case 'during':
      return '';
  }
}

function recoveryWhy(line: string): string {
  if (line.startsWith('scanning backward')) return 'Backward pass: read the log from its end towards its start, looking for the last end_checkpoint.';
  if (line.startsWith('end_checkpoint at')) return 'The newest complete checkpoint: its end names its begin, where recovery will turn around.';
  if (line.startsWith('skipping incomplete')) return 'A begin_checkpoint with no end_checkpoint after it: that checkpoint never completed, so recovery must not start from it.';
  if (line.startsWith('turning around')) return 'The turning point: the begin of the last complete checkpoint. Every dictionary holds at least what was committed before it.';
  if (line.startsWith('scanning forward')) return 'Forward pass: replay every record from the turning point to the end; a write whose LSN is not above a dictionary\'s header checkpoint_lsn is already in the file and skipped.';
  if (line.startsWith('repaired')) return 'The last log entry was torn by the crash and is cut off.';
  return 'Recovery narration (recovery.md).';
}

/** Run spec to its end (or until it stops) and return every step. */
export async function recordTour(spec: RunSpec): Promise<TeachTour> {
  const r = new Recorder(spec);
  await r.run();
  return { spec, steps: r.steps, recoveries: r.recoveries, stopped: r.stopped };
}
