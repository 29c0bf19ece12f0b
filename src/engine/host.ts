/**
 * What an environment takes from the machine it runs on when the caller names nothing: a
 * storage, a clock, an owner id for the env lock and, where the host has real processes, a way
 * to tell whether the process named in a lock file is still alive. The core knows only this
 * interface; the Node entry (src/node/host.ts) installs a host with the real file system and
 * /proc, and a build without Node (a browser) keeps the portable host below, where every
 * environment is given its storage (a SimStorage) and locks are judged by owner and lease.
 *
 * Invariants:
 *  - Importing this module has no side effect: the default host is made when first asked for,
 *    and replaced only by an explicit setDefaultEnvHost call.
 *  - Nothing here names a Node global or module.
 */
import { TokusimError } from '../base/errors.js';
import { RealClock, type Clock } from '../storage/clock.js';
import type { Storage } from '../storage/storage.js';

/** Who a process is: enough to tell it from a later process given the same pid. */
export interface ProcessIdentity {
  host: string;
  pid: number;
  /** Thread within the process (worker_threads threadId on Node; 0 on the main thread). */
  thread?: number;
  /** Boot id of the host (Linux: /proc/sys/kernel/random/boot_id). */
  bootId?: string;
  /** Pid namespace (Linux: the target of /proc/self/ns/pid). */
  pidNs?: string;
  /** Start time of the pid, as a decimal string (Linux: clock ticks since boot). */
  startTicks?: string;
}

/** 'reused': the pid runs, but as another process than the one recorded (another start time). */
export type ProcessState = 'alive' | 'dead' | 'reused' | 'unknown';

/**
 * The processes of the host, as the env lock judges them. `state` answers 'alive', 'dead' or
 * 'reused' only when that is certain on this host, 'unknown' otherwise (another host, boot or
 * pid namespace; nothing to verify the pid with); the caller handles a record naming this very
 * process itself (only it knows which locks it holds).
 */
export interface HostProcesses {
  /** This process (and thread). */
  current(): ProcessIdentity;
  /** Whether the process `other` names is the live process that wrote it. */
  state(other: ProcessIdentity): ProcessState;
}

/** The machine an environment runs on: what Env.open uses for what the caller leaves out. */
export interface EnvHost {
  /** The storage of an environment opened without `options.storage`. */
  storage(): Storage;
  /** The clock of an environment opened without `options.clock`. */
  clock(): Clock;
  /** The env-lock owner id of an environment opened without `options.owner`. */
  lockOwner(): string;
  /**
   * The host's processes, when it has real ones; the env lock then judges a lock on a real
   * device by its holder's process. Absent: locks are judged by owner id and lease only.
   */
  readonly processes?: HostProcesses;
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** The host of a build without a file system or processes (e.g. a browser). */
export const portableEnvHost: EnvHost = Object.freeze({
  storage(): Storage {
    throw new TokusimError('bad-argument', 'no storage given and this build has no file system: pass options.storage, e.g. a SimStorage', {
      expected: 'options.storage',
      actual: 'none',
    });
  },
  clock(): Clock {
    return new RealClock();
  },
  lockOwner(): string {
    return `tokusim-${randomId()}${randomId()}`;
  },
});

let defaultHost: EnvHost | undefined;

/** The host Env.open and environmentStatus use when the caller passes none (the portable host unless an entry set another). */
export function defaultEnvHost(): EnvHost {
  return defaultHost ?? portableEnvHost;
}

/** Make `host` the default from now on (the Node entry installs the Node host; undefined restores the portable one). */
export function setDefaultEnvHost(host: EnvHost | undefined): void {
  defaultHost = host;
}

/**
 * The identity written into a lock record on a host without processes: no pid can be checked
 * there, so the record names a placeholder pid (records need a positive one) and host.
 */
export const PORTABLE_PROCESS: Readonly<ProcessIdentity> = Object.freeze({ host: 'portable', pid: 1 });
