/**
 * The environment lock: the file `__tokusim_env_lock` in the environment directory, holding one
 * JSON line that names the holder (owner id, a random token, host, pid, thread, boot id, pid
 * namespace, the pid's start time) and its lease expiry (Unix ms on the env's Clock).
 *
 * How the lock is taken (every step is one atomic file system operation):
 *  - Publish: the whole record is written and fsynced to a private temporary file
 *    (`__tokusim_env_lock.new-<token>-<n>`), which is then hard-linked to the lock name. The
 *    link fails with EEXIST when the name exists, so of any number of openers exactly one gets
 *    the name, and no reader ever sees a lock file whose bytes are not complete.
 *  - Renew: every leaseMs/3 the holder checks that the file still holds exactly the bytes it
 *    last wrote, then writes a new record to a temporary file and renames it over the lock.
 *  - Take over a stale lock: a taker that judged the bytes B stale claims them by publishing
 *    (link, as above) `__tokusim_env_lock.takeover-<hash of B>.<g>`, g one more than any claim
 *    already there (a claim already there must itself be stale: its claimant dead or its claim
 *    lease expired). Only the one claimant of a generation goes on: it re-reads the lock, and
 *    only if it still holds exactly B does it unlink it; then it removes the claims on B and,
 *    like everyone, publishes its own record (a fresh opener may win that race; then the
 *    taker is refused like any other second opener). An opener whose listing just named the
 *    lock file (EnvLockOptions.lockSeen) judges it before its first publish, which could not
 *    win while the name exists.
 *
 * When a lock is stale (checked in this order):
 *  - On a real device (storage capabilities.realDevice) of a host whose processes the lock is
 *    given (EnvHost.processes: the Node entry's /proc reader), for a holder on this host (same host name, boot id and pid
 *    namespace): this very process and thread holds it iff the token is one of this process's
 *    live locks; another live process (pid running, not a zombie, same start time) is never
 *    taken over, whatever its lease says; a pid that is gone, a zombie, or now another process
 *    (another start time) is stale at once. A lock written without a host (an older tokusim)
 *    counts as written on this host.
 *  - Otherwise (SimStorage, or a host without processes such as a browser), a lock naming the opener's own owner id is that
 *    owner's, left by a (simulated) crash.
 *  - Otherwise (another host, or a holder that cannot be verified): stale once its lease expired.
 *
 * Content that is not a lock record tokusim writes (not JSON, wrong field types, a lease that is
 * not a whole number of ms in the Date range, empty, over 4 KiB) is never overwritten or
 * removed: tokusim writes the file whole (fsynced before it gets its name), so such content
 * was damaged or put there by something else, and might belong to a live process. The open is
 * refused with EnvLockUnreadableError (kind 'locked') naming the file; removing it is left to
 * the user. A file system without hard links falls back to create-exclusive of the lock name
 * and a write; there an empty lock file (an opener between the two steps, or a crash there)
 * is refused the same way.
 *
 * Fencing: the holder counts its lease from the start of its last successful renewal (on the
 * env clock's monotonic time) and considers it lapsed a margin (leaseMs/4) before others will
 * see it expire. assertHeld() is called before every write of the environment (see
 * fenced-storage.ts); once the lease lapsed, or a renewal found the file no longer holding its
 * bytes, the lock is lost for good: onLost runs once, assertHeld throws a 'locked' error from
 * then on, and the holder writes nothing more (not even to remove its lock, except through
 * the takeover protocol above, as any taker would).
 *
 * Invariants:
 *  - acquire returns only after publishing this holder's record under the lock name itself; it
 *    never overwrites or removes a live holder's lock, nor content it cannot read.
 *  - A lock file is removed only by its holder while its lease is valid and the file holds the
 *    holder's last bytes, or by the one claimant of a takeover generation after re-reading
 *    exactly the bytes it judged stale.
 *  - While assertHeld() does not throw, the lock file holds this holder's bytes, given clocks
 *    that agree within the margin and no pause longer than the margin between the check and
 *    the write after it (on one host a live holder is never taken over, so neither is needed).
 */
import { TokusimError } from '../base/errors.js';
import { x1764 } from '../format/x1764.js';
import type { Clock, TimerHandle } from '../storage/clock.js';
import { ioErrorCode } from '../storage/io-error.js';
import { readSmallFile } from '../storage/small-file.js';
import { joinPath, type Storage } from '../storage/storage.js';
import { PORTABLE_PROCESS, type HostProcesses, type ProcessIdentity } from './host.js';

/** The name of the environment lock file in an environment directory. */
export const ENV_LOCK_FILE = '__tokusim_env_lock';

/**
 * The default lease. A holder fences itself once its event loop could not renew for 3/4 of it,
 * so it must outlast the longest stall an embedding process may have (a big synchronous batch
 * or a full GC on a loaded machine); it only delays the takeover of a holder that cannot be
 * judged by its process (another host), since a dead holder on this host is taken over at once.
 */
export const DEFAULT_LEASE_MS = 60_000;
/** Lock records are small; anything longer is not one (checked before reading it). */
const MAX_LOCK_BYTES = 4096;
/** Largest time a Date can hold (ms since the epoch). */
const MAX_DATE_MS = 8.64e15;
/** Error codes of a file system that cannot make hard links. */
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** True for every name the lock protocol uses in an environment directory (lock, claims, temporaries). */
export function isEnvLockFile(name: string): boolean {
  return name === ENV_LOCK_FILE || name.startsWith(`${ENV_LOCK_FILE}.`);
}

/** What an environment lock file records: who holds it, its process and lease. */
export interface EnvLockInfo {
  owner: string;
  pid: number;
  leaseExpiresMs: number;
  /** Random per acquisition (absent in locks written by older tokusim versions). */
  token?: string;
  host?: string;
  thread?: number;
  bootId?: string;
  pidNs?: string;
  startTicks?: string;
}

/** What the lock file says, judged as the next opener would. */
export type EnvLockVerdict =
  | { state: 'none' }
  | { state: 'held'; info: EnvLockInfo; why: string }
  | { state: 'stale'; info: EnvLockInfo; why: string }
  | { state: 'unreadable'; why: string };

/** A time for a message; never throws (a lease far outside the Date range is shown as a number). */
export function lockTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms (not a valid time)`;
}

/** A second opener of a locked environment (or of one being taken over by another opener). */
export class EnvLockedError extends TokusimError {
  /** The environment lock is held by the owner described in info. */
  constructor(
    readonly holder: EnvLockInfo,
    path: string,
    takingOver = false,
  ) {
    const who = `owner ${holder.owner} (pid ${holder.pid}${holder.host !== undefined ? ` on ${holder.host}` : ''}, lease until ${lockTime(holder.leaseExpiresMs)})`;
    super('locked', takingOver ? `environment lock is being taken over by ${who}` : `environment is locked by ${who}`, {
      file: path,
      expected: 'no live holder',
      actual: `owner ${holder.owner} pid ${holder.pid}`,
    });
    this.name = 'EnvLockedError';
  }
}

/** The lock file holds something that is not a lock record tokusim writes; it is left alone. */
export class EnvLockUnreadableError extends TokusimError {
  /** The lock file at path exists but cannot be read as a lock, for the reason given. */
  constructor(
    readonly problem: string,
    path: string,
  ) {
    super(
      'locked',
      'environment lock file is not a tokusim lock record; it is left as it is, since it may belong to a live process (if no process uses the environment, remove it)',
      { file: path, expected: 'a tokusim lock record', actual: problem },
    );
    this.name = 'EnvLockUnreadableError';
  }
}

/** Options for {@link EnvLock.acquire}. */
export interface EnvLockOptions {
  storage: Storage;
  dir: string;
  clock: Clock;
  owner: string;
  leaseMs?: number;
  /** Called when acquire removed a stale lock and then got the lock itself. */
  onTakeover?: (stale: EnvLockInfo, why: string) => void;
  /** Called once when the holder finds it may no longer hold the lock (see Fencing above). */
  onLost?: (err: TokusimError) => void;
  /**
   * The host's processes: this holder's identity in the record, and the judge of a holder on
   * this host (absent: a placeholder identity, and locks judged by owner and lease only).
   */
  processes?: HostProcesses;
  /**
   * The caller's listing of dir, just before, named the lock file: read it before publishing
   * (a stale lock left by a crash is then taken over without first writing a temporary that
   * cannot win, and a live holder is refused without writing anything). Only the order of the
   * first attempt changes; who may take the lock does not (the link decides that).
   */
  lockSeen?: boolean;
  /**
   * Judge holders by their process (needs `processes`). Default: when the storage is on a real
   * device, the only place where other processes of this host can hold the lock.
   */
  checkProcesses?: boolean;
}

const HELD_KEY = Symbol.for('tokusim.envLock.held');

/** Tokens of the locks this process (this JS realm) holds now; shared by every copy of this module (made at first use, not at import). */
function held(): Set<string> {
  return ((globalThis as Record<symbol, unknown>)[HELD_KEY] ??= new Set<string>()) as Set<string>;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The raw bytes at path (as text), or undefined when there is no such file. */
async function readRaw(storage: Storage, path: string): Promise<string | undefined> {
  let f;
  try {
    f = await storage.open(path, 'read');
  } catch (err) {
    if (ioErrorCode(err) === 'ENOENT') return undefined;
    if (ioErrorCode(err) === 'EISDIR') return '\u0000directory';
    throw err;
  }
  try {
    const r = await readSmallFile(f, MAX_LOCK_BYTES);
    if ('tooLarge' in r) return `\u0000${r.tooLarge} bytes`;
    try {
      return decoder.decode(r.bytes);
    } catch {
      return '\u0000not UTF-8 text';
    }
  } finally {
    await f.close();
  }
}

const OPTIONAL_STRINGS = ['token', 'host', 'bootId', 'pidNs', 'startTicks'] as const;

/** A lock record, or why the text is not one. */
export function parseLockRecord(text: string): { info: EnvLockInfo } | { problem: string } {
  if (text.startsWith('\u0000')) {
    const what = text.slice(1);
    return { problem: what === 'directory' ? 'it is a directory' : what.endsWith('bytes') ? `${what}, larger than any lock record` : what };
  }
  if (text.length === 0) return { problem: 'empty file' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (typeof o['owner'] !== 'string' || o['owner'].length === 0) return { problem: 'owner is not a non-empty string' };
  const pid = o['pid'];
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return { problem: `pid ${JSON.stringify(pid)} is not a positive integer` };
  const lease = o['leaseExpiresMs'];
  if (typeof lease !== 'number' || !Number.isSafeInteger(lease) || lease < 0 || lease > MAX_DATE_MS) {
    return { problem: `leaseExpiresMs ${JSON.stringify(lease)} is not a time in ms (a whole number from 0 to ${MAX_DATE_MS})` };
  }
  const info: EnvLockInfo = { owner: o['owner'], pid, leaseExpiresMs: lease };
  for (const k of OPTIONAL_STRINGS) {
    const x = o[k];
    if (x === undefined) continue;
    if (typeof x !== 'string') return { problem: `${k} is not a string` };
    info[k] = x;
  }
  const thread = o['thread'];
  if (thread !== undefined) {
    if (typeof thread !== 'number' || !Number.isSafeInteger(thread) || thread < 0) return { problem: 'thread is not a non-negative integer' };
    info.thread = thread;
  }
  return { info };
}

interface JudgeContext {
  owner: string;
  /** Set when holders are judged by their process. */
  processes: HostProcesses | undefined;
  nowWallMs: number;
}

/** live or stale, and why (see "When a lock is stale" above). */
function judge(info: EnvLockInfo, ctx: JudgeContext): { live: boolean; why: string } {
  if (ctx.processes !== undefined) {
    const me = ctx.processes.current();
    const id: ProcessIdentity = { ...info, host: info.host ?? me.host };
    const sameProcess =
      id.host === me.host &&
      id.pid === me.pid &&
      (id.bootId === undefined || id.bootId === me.bootId) &&
      (id.pidNs === undefined || id.pidNs === me.pidNs) &&
      (id.startTicks === undefined || id.startTicks === me.startTicks);
    if (sameProcess && (info.thread ?? 0) === me.thread) {
      return info.token !== undefined && held().has(info.token)
        ? { live: true, why: `this process (pid ${info.pid}) holds it` }
        : { live: false, why: `it names this process (pid ${info.pid}), which does not hold it` };
    }
    if (!sameProcess) {
      const st = ctx.processes.state(id);
      if (st === 'alive') return { live: true, why: `pid ${info.pid} is running` };
      if (st === 'dead') return { live: false, why: `pid ${info.pid} is not running` };
      if (st === 'reused') return { live: false, why: `pid ${info.pid} is now another process (another start time)` };
    }
  } else if (info.owner === ctx.owner) {
    return { live: false, why: `it names this same owner (${info.owner}), restarting after a crash` };
  }
  return info.leaseExpiresMs <= ctx.nowWallMs
    ? { live: false, why: `lease expired at ${lockTime(info.leaseExpiresMs)}` }
    : { live: true, why: `lease valid until ${lockTime(info.leaseExpiresMs)}` };
}

function verdictOf(raw: string | undefined, ctx: JudgeContext): EnvLockVerdict {
  if (raw === undefined) return { state: 'none' };
  const parsed = parseLockRecord(raw);
  if ('problem' in parsed) return { state: 'unreadable', why: parsed.problem };
  const j = judge(parsed.info, ctx);
  return { state: j.live ? 'held' : 'stale', info: parsed.info, why: j.why };
}

function wallMs(clock: Clock): number {
  return Number(clock.nowMicros() / 1000n);
}

function newToken(): string {
  let t = '';
  for (let i = 0; i < 4; i++) t += Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return t;
}

type PublishResult = 'won' | 'exists' | 'retry';

/** The lock file that keeps two processes from opening one environment; it is renewed while held and judged stale when its lease ran out or its process is gone. */
export class EnvLock {
  private timer: TimerHandle | undefined;
  /** The renewal in flight, if any (release waits for it, so no renewal lands after the unlink). */
  private renewing: Promise<void> | undefined;
  private released = false;
  private lost: TokusimError | undefined;
  /** The bytes this holder last put under the lock name. */
  private content = '';
  /** Monotonic clock ms at which this holder's lease counts as lapsed (see Fencing). */
  private validUntilMs = 0;
  private tempSeq = 0;
  /** A random token naming this holder in the lock file. */
  readonly token = newToken();
  private readonly margin: number;
  /** The judge of holders on this host, when holders are judged by their process. */
  private readonly judgeBy: HostProcesses | undefined;

  private constructor(
    private readonly opts: EnvLockOptions & { leaseMs: number },
    readonly path: string,
  ) {
    this.margin = Math.max(1, Math.floor(opts.leaseMs / 4));
    const check = opts.processes !== undefined && (opts.checkProcesses ?? opts.storage.capabilities.realDevice);
    this.judgeBy = check ? opts.processes : undefined;
  }

  /** The lock record in dir, if there is a readable one. */
  static async read(storage: Storage, dir: string): Promise<EnvLockInfo | undefined> {
    const raw = await readRaw(storage, joinPath(dir, ENV_LOCK_FILE));
    if (raw === undefined) return undefined;
    const p = parseLockRecord(raw);
    return 'info' in p ? p.info : undefined;
  }

  /**
   * What the next opener (with another owner id) would conclude about dir's lock; writes
   * nothing. Holders are judged by their process when `processes` is given (the caller says
   * so: storage here is often a read-only wrapper), by lease otherwise.
   */
  static async inspect(storage: Storage, dir: string, clock: Clock, processes?: HostProcesses): Promise<EnvLockVerdict> {
    const raw = await readRaw(storage, joinPath(dir, ENV_LOCK_FILE));
    return verdictOf(raw, { owner: '', processes, nowWallMs: wallMs(clock) });
  }

  /** Takes the environment lock of a directory, writing the lock file atomically; throws an EnvLockedError when another live owner holds it. */
  static async acquire(options: EnvLockOptions): Promise<EnvLock> {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 4) {
      throw new TokusimError('bad-argument', 'leaseMs must be a whole number of ms, at least 4', { expected: '>= 4', actual: String(leaseMs) });
    }
    const lock = new EnvLock({ ...options, leaseMs }, joinPath(options.dir, ENV_LOCK_FILE));
    await lock.take();
    return lock;
  }

  private ctx(): JudgeContext {
    return { owner: this.opts.owner, processes: this.judgeBy, nowWallMs: wallMs(this.opts.clock) };
  }

  private render(): string {
    const me: ProcessIdentity = this.opts.processes?.current() ?? PORTABLE_PROCESS;
    const info: EnvLockInfo = { owner: this.opts.owner, pid: me.pid, leaseExpiresMs: wallMs(this.opts.clock) + this.opts.leaseMs, token: this.token, host: me.host };
    if (me.thread !== undefined) info.thread = me.thread;
    if (me.bootId !== undefined) info.bootId = me.bootId;
    if (me.pidNs !== undefined) info.pidNs = me.pidNs;
    if (me.startTicks !== undefined) info.startTicks = me.startTicks;
    return JSON.stringify(info) + '\n';
  }

  private tempPath(): string {
    return joinPath(this.opts.dir, `${ENV_LOCK_FILE}.new-${this.token}-${this.tempSeq++}`);
  }

  private async writeTemp(content: string): Promise<string> {
    const tmp = this.tempPath();
    const f = await this.opts.storage.open(tmp, 'create-exclusive');
    try {
      await f.pwrite(new TextEncoder().encode(content), 0);
      await f.fsync();
    } finally {
      await f.close();
    }
    return tmp;
  }

  /** Put content under `path` unless that name exists (see Publish above). */
  private async publish(path: string, content: string): Promise<PublishResult> {
    const { storage } = this.opts;
    const tmp = await this.writeTemp(content);
    try {
      await storage.link(tmp, path);
      return 'won';
    } catch (err) {
      const code = ioErrorCode(err);
      if (code === 'EEXIST') return 'exists';
      if (code === 'ENOENT') return 'retry'; // our temporary was swept by a new holder
      if (!NO_LINK_CODES.has(code)) throw err;
      return this.publishWithoutLink(path, content);
    } finally {
      await storage.unlink(tmp).catch(() => undefined);
    }
  }

  private async publishWithoutLink(path: string, content: string): Promise<PublishResult> {
    let f;
    try {
      f = await this.opts.storage.open(path, 'create-exclusive');
    } catch (err) {
      if (ioErrorCode(err) === 'EEXIST') return 'exists';
      throw err;
    }
    try {
      await f.pwrite(new TextEncoder().encode(content), 0);
      await f.fsync();
    } finally {
      await f.close();
    }
    return 'won';
  }

  private async take(): Promise<void> {
    const { clock } = this.opts;
    let takenOver: { info: EnvLockInfo; why: string } | undefined;
    let last: EnvLockInfo | undefined;
    for (let attempt = 0; attempt < 8; attempt++) {
      if (attempt > 0 || this.opts.lockSeen !== true) {
        const start = clock.nowMs();
        const content = this.render();
        const r = await this.publish(this.path, content);
        if (r === 'won') {
          this.content = content;
          this.validUntilMs = start + this.opts.leaseMs - this.margin;
          held().add(this.token);
          await this.sweep();
          this.schedule();
          if (takenOver !== undefined) this.opts.onTakeover?.(takenOver.info, takenOver.why);
          return;
        }
        if (r === 'retry') continue;
      }
      const raw = await readRaw(this.opts.storage, this.path);
      const v = verdictOf(raw, this.ctx());
      if (v.state === 'none') continue; // released meanwhile: contend again
      if (v.state === 'unreadable') throw new EnvLockUnreadableError(v.why, this.path);
      if (v.state === 'held') throw new EnvLockedError(v.info, this.path);
      last = v.info;
      if (await this.removeStale(raw!)) takenOver = { info: v.info, why: v.why };
    }
    throw new TokusimError('locked', 'environment lock kept changing hands while this open tried to take it', {
      file: this.path,
      ...(last !== undefined ? { actual: `last seen owner ${last.owner} pid ${last.pid}` } : {}),
    });
  }

  /**
   * Remove the lock file holding exactly `stale` (bytes judged stale), through a takeover claim
   * (see above). True when this call unlinked it; false when the file had changed meanwhile.
   * Throws EnvLockedError when another live claimant is taking it over.
   */
  private async removeStale(stale: string): Promise<boolean> {
    const { storage, dir, clock } = this.opts;
    const base = `${ENV_LOCK_FILE}.takeover-${(x1764(new TextEncoder().encode(stale)) >>> 0).toString(16).padStart(8, '0')}-${stale.length}`;
    const claimNames = async (): Promise<string[]> => (await storage.list(dir)).filter((n) => n.startsWith(`${base}.`));
    const gens = (await claimNames()).map((n) => Number(n.slice(base.length + 1))).filter((g) => Number.isSafeInteger(g) && g > 0);
    const top = gens.length === 0 ? 0 : Math.max(...gens);
    if (top > 0) {
      const claimPath = joinPath(dir, `${base}.${top}`);
      const v = verdictOf(await readRaw(storage, claimPath), { ...this.ctx(), owner: '' });
      if (v.state === 'unreadable') throw new EnvLockUnreadableError(v.why, claimPath);
      if (v.state === 'held') throw new EnvLockedError(v.info, this.path, true);
    }
    const start = clock.nowMs();
    const mine = joinPath(dir, `${base}.${top + 1}`);
    // While claiming, this process counts the claim's token as live (openers in this same
    // process judge claims by the registry, not by pid).
    held().add(this.token);
    let r: PublishResult;
    try {
      r = await this.publish(mine, this.render());
    } catch (err) {
      if (this.content === '' || this.released) held().delete(this.token);
      throw err;
    }
    if (r !== 'won') {
      if (this.content === '' || this.released) held().delete(this.token);
      if (r === 'retry') return false;
      const other = await EnvLock.readAt(storage, mine);
      throw other !== undefined ? new EnvLockedError(other, this.path, true) : new TokusimError('locked', 'environment lock is being taken over by another opener', { file: this.path });
    }
    try {
      if ((await readRaw(storage, this.path)) !== stale) return false;
      if (clock.nowMs() >= start + this.opts.leaseMs - this.margin) {
        throw new TokusimError('locked', 'taking over a stale environment lock took longer than the lease; try again', { file: this.path });
      }
      await storage.unlink(this.path);
      return true;
    } finally {
      // The claims on `stale` are moot once the lock no longer holds it, and ours is ended here.
      for (const n of await claimNames().catch(() => [])) await storage.unlink(joinPath(dir, n)).catch(() => undefined);
      if (this.content === '' || this.released) held().delete(this.token);
    }
  }

  private static async readAt(storage: Storage, path: string): Promise<EnvLockInfo | undefined> {
    const raw = await readRaw(storage, path).catch(() => undefined);
    if (raw === undefined) return undefined;
    const p = parseLockRecord(raw);
    return 'info' in p ? p.info : undefined;
  }

  /** Remove temporaries and claims left by crashed openers (a live opener whose file goes retries). */
  private async sweep(): Promise<void> {
    const { storage, dir } = this.opts;
    const names = await storage.list(dir).catch(() => []);
    for (const n of names) {
      if (n === ENV_LOCK_FILE || !isEnvLockFile(n)) continue;
      if (n.startsWith(`${ENV_LOCK_FILE}.new-${this.token}-`)) continue;
      await storage.unlink(joinPath(dir, n)).catch(() => undefined);
    }
  }

  private schedule(): void {
    if (this.released || this.lost !== undefined) return;
    this.timer = this.opts.clock.setTimer(Math.max(1, Math.floor(this.opts.leaseMs / 3)), () => {
      this.renewing = this.renew().then(
        () => this.schedule(),
        () => this.schedule(), // a failed renewal lets the lease run down; the holder fences itself when it lapses
      );
    });
  }

  private async renew(): Promise<void> {
    if (this.released || this.lost !== undefined) return;
    const { storage, clock } = this.opts;
    const start = clock.nowMs();
    if (!this.stillValid()) return;
    const cur = await readRaw(storage, this.path);
    if (cur !== this.content) {
      this.markLost(cur === undefined ? 'the lock file was removed by someone else' : 'the lock file now names another holder');
      return;
    }
    const next = this.render();
    const tmp = await this.writeTemp(next);
    try {
      if (this.released || !this.stillValid()) return;
      await storage.rename(tmp, this.path);
      this.content = next;
      this.validUntilMs = start + this.opts.leaseMs - this.margin;
    } finally {
      if (this.content !== next) await storage.unlink(tmp).catch(() => undefined);
    }
  }

  private stillValid(): boolean {
    if (this.lost !== undefined) return false;
    if (this.opts.clock.nowMs() < this.validUntilMs) return true;
    this.markLost('its lease lapsed before it could be renewed (the process was paused or its event loop blocked)');
    return false;
  }

  private markLost(why: string): void {
    if (this.lost !== undefined) return;
    this.lost = new TokusimError('locked', `environment lock lost: ${why}; nothing more is written (reopen the environment)`, { file: this.path });
    held().delete(this.token);
    this.timer?.cancel();
    this.opts.onLost?.(this.lost);
  }

  /** The error this holder fails with once it lost the lock, or undefined while it holds it. */
  get lostWith(): TokusimError | undefined {
    if (this.lost === undefined && !this.released) this.stillValid();
    return this.lost;
  }

  /** Throw unless this holder may still write (see Fencing above). Cheap: a clock read. */
  assertHeld(): void {
    const lost = this.lostWith;
    if (lost !== undefined) throw lost;
  }

  /**
   * Give the lock up: remove the file if it still holds this holder's bytes. A holder whose
   * lease lapsed goes through the takeover protocol, as any taker would (someone may have taken
   * the lock over meanwhile).
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.timer?.cancel();
    await this.renewing;
    const lapsed = this.lostWith !== undefined || this.opts.clock.nowMs() >= this.validUntilMs;
    try {
      const cur = await readRaw(this.opts.storage, this.path);
      if (cur !== this.content) return;
      if (!lapsed) await this.opts.storage.unlink(this.path);
      else await this.removeStale(cur).catch(() => false);
    } finally {
      // Only now: while the file may still hold our record, another opener in this process
      // must see it as held, or it would take it over and lose its own lock to our unlink.
      held().delete(this.token);
    }
  }

  /** Stop renewing without removing the file, and stop counting it as held (a simulated crash). */
  abandon(): void {
    this.released = true;
    this.timer?.cancel();
    held().delete(this.token);
  }
}
