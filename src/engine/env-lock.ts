/**
 * The environment lock file (`__tokusim_env_lock` in the env directory): one JSON line with
 * the owner id, the pid and the lease expiry (Unix ms on the env's Clock). The holder renews
 * the lease on a timer; a second opener is refused with EnvLockedError naming the holder; a
 * stale lock (expired lease, or — on NodeStorage only — a pid that no longer exists) is taken
 * over and reported through onTakeover.
 *
 * Invariants:
 *  - While an EnvLock is held, the file names this owner and an expiry in the future (as long
 *    as the renew timer can run).
 *  - acquire never overwrites a live holder's lock (a lock naming the same owner id is that
 *    owner's own, left by a crash, and is taken over); release removes the file only when it
 *    still names this owner.
 */
import { TokusimError } from '../format/errors.js';
import type { Clock, TimerHandle } from '../storage/clock.js';
import { NodeStorage } from '../storage/node-storage.js';
import { joinPath, type Storage } from '../storage/storage.js';

export const ENV_LOCK_FILE = '__tokusim_env_lock';

export interface EnvLockInfo {
  owner: string;
  pid: number;
  leaseExpiresMs: number;
}

/** A second opener of a locked environment. */
export class EnvLockedError extends TokusimError {
  constructor(
    readonly holder: EnvLockInfo,
    path: string,
  ) {
    super('locked', `environment is locked by owner ${holder.owner} (pid ${holder.pid}, lease until ${new Date(holder.leaseExpiresMs).toISOString()})`, {
      file: path,
      expected: 'no live holder',
      actual: `owner ${holder.owner} pid ${holder.pid}`,
    });
    this.name = 'EnvLockedError';
  }
}

export interface EnvLockOptions {
  storage: Storage;
  dir: string;
  clock: Clock;
  owner: string;
  leaseMs?: number;
  onTakeover?: (stale: EnvLockInfo, why: string) => void;
}

/** Whether process `pid` on this machine is running (signal 0; EPERM means it exists). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(storage: Storage, path: string): Promise<EnvLockInfo | undefined> {
  if (!(await storage.exists(path))) return undefined;
  const f = await storage.open(path, 'read');
  try {
    const buf = new Uint8Array(await f.size());
    await f.pread(buf, 0);
    const info = JSON.parse(new TextDecoder().decode(buf)) as EnvLockInfo;
    if (typeof info.owner !== 'string' || typeof info.pid !== 'number' || typeof info.leaseExpiresMs !== 'number') return undefined;
    return info;
  } catch {
    return undefined; // a torn or foreign lock file counts as no lock
  } finally {
    await f.close();
  }
}

export class EnvLock {
  private timer: TimerHandle | undefined;
  private released = false;

  private constructor(
    private readonly opts: EnvLockOptions & { leaseMs: number },
    readonly path: string,
  ) {}

  static async read(storage: Storage, dir: string): Promise<EnvLockInfo | undefined> {
    return readLock(storage, joinPath(dir, ENV_LOCK_FILE));
  }

  static async acquire(options: EnvLockOptions): Promise<EnvLock> {
    const opts = { ...options, leaseMs: options.leaseMs ?? 10_000 };
    const path = joinPath(opts.dir, ENV_LOCK_FILE);
    const held = await readLock(opts.storage, path);
    if (held !== undefined) {
      const now = Number(opts.clock.nowMicros() / 1000n);
      const checkPid = opts.storage instanceof NodeStorage;
      let stale: string | undefined;
      if (held.owner === opts.owner) stale = `it names this same owner (${held.owner}), restarting after a crash`;
      else if (checkPid && !pidAlive(held.pid)) stale = `pid ${held.pid} is not running`;
      else if (held.leaseExpiresMs <= now) stale = `lease expired at ${new Date(held.leaseExpiresMs).toISOString()}`;
      if (stale === undefined) throw new EnvLockedError(held, path);
      opts.onTakeover?.(held, stale);
    }
    const lock = new EnvLock(opts, path);
    await lock.write();
    lock.schedule();
    return lock;
  }

  private async write(): Promise<void> {
    const info: EnvLockInfo = {
      owner: this.opts.owner,
      pid: process.pid,
      leaseExpiresMs: Number(this.opts.clock.nowMicros() / 1000n) + this.opts.leaseMs,
    };
    const f = await this.opts.storage.open(this.path, 'create');
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(info) + '\n');
      await f.truncate(0);
      await f.pwrite(bytes, 0);
      await f.fsync();
    } finally {
      await f.close();
    }
  }

  private schedule(): void {
    if (this.released) return;
    this.timer = this.opts.clock.setTimer(Math.max(1, Math.floor(this.opts.leaseMs / 3)), () => {
      this.write().then(
        () => this.schedule(),
        () => undefined, // a failed renewal lets the lease lapse; the env's own I/O will fail too
      );
    });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.timer?.cancel();
    const cur = await readLock(this.opts.storage, this.path);
    if (cur !== undefined && cur.owner === this.opts.owner) {
      await this.opts.storage.unlink(this.path);
    }
  }

  /** Stop renewing without removing the file (a simulated crash). */
  abandon(): void {
    this.released = true;
    this.timer?.cancel();
  }
}
