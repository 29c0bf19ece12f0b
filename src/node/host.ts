/**
 * The Node host of an environment (EnvHost, src/engine/host.ts): the real file system
 * (defaultNodeStorage, with the fast paths when the Node entry asked for them), the real
 * clock, an owner id naming this process, and this host's processes read from /proc, so the
 * env lock on real files judges a holder by its process.
 *
 * Invariants:
 *  - Importing this module has no side effect; the Node entries (src/index.ts, src/node/env.ts,
 *    the command-line tools) install it with useNodeHostByDefault().
 */
import { setDefaultEnvHost, type EnvHost } from '../engine/host.js';
import { RealClock, type Clock } from '../storage/clock.js';
import { defaultNodeStorage } from '../storage/node-storage.js';
import type { Storage } from '../storage/storage.js';
import { nodeProcesses } from './host-process.js';

/** Real files, real time, this process. */
export const nodeEnvHost: EnvHost = Object.freeze({
  storage(): Storage {
    return defaultNodeStorage();
  },
  clock(): Clock {
    return new RealClock();
  },
  lockOwner(): string {
    return `tokusim-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  },
  processes: nodeProcesses,
});

/** Make the Node host the default EnvHost (Env.open and environmentStatus without a storage, clock or owner). */
export function useNodeHostByDefault(): void {
  setDefaultEnvHost(nodeEnvHost);
}
