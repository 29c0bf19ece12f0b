/**
 * The one place where the engine picks Node-only defaults: the real file system, the real
 * clock and an env-lock owner id naming this process. Env.open and environmentStatus use them
 * only when the caller passes none; everything else in engine/ takes storage and clock as
 * arguments, so a core without Node replaces this module and nothing else in the engine
 * (the env lock's own process checks live in storage/host-process.ts).
 *
 * Invariants:
 *  - Importing this module has no side effect; each default is made when asked for.
 */
import { RealClock, type Clock } from '../storage/clock.js';
import { defaultNodeStorage } from '../storage/node-storage.js';
import type { Storage } from '../storage/storage.js';

/** The storage an environment uses when none is given: the real file system (with the fast paths when the Node entry asked for them). */
export function defaultStorage(): Storage {
  return defaultNodeStorage();
}

/** The clock an environment uses when none is given: real time. */
export function defaultClock(): Clock {
  return new RealClock();
}

/** The env-lock owner id when none is given: this process's pid and a random suffix. */
export function defaultLockOwner(): string {
  return `tokusim-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}
