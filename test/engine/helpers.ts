/** Shared helpers for the engine scenario tests. */
import { Env, type EnvOptions } from '../../src/engine/env.js';
import type { LogRecord } from '../../src/format/record-types.js';
import { readAllRecords } from '../support/log-records.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { SimStorage } from '../../src/storage/sim-storage.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

/** A simulated disk and clock, and an opener for the environment '/env' on them. */
export function simHarness(durability: 'sync' | 'periodic' | 'none' = 'sync', seed = 3, owner = 'tester') {
  const storage = new SimStorage({ seed });
  const clock = new VirtualClock();
  const open = (o: Partial<EnvOptions> = {}) => Env.open('/env', { storage, clock, durability, checkpointPeriodMs: 0, owner, ...o });
  return { storage, clock, open };
}

/** Every committed row of dictionary `name`, as text. */
export async function dumpDictionary(env: Env, name: string): Promise<Record<string, string>> {
  const d = await env.openDictionary(name);
  const out: Record<string, string> = {};
  for (const e of await env.begin().range(d)) out[dec(e.key)!] = dec(e.value)!;
  return out;
}

/** Every record of the log directory, in LSN order. */
export function logRecords(storage: SimStorage, dir = '/env'): Promise<LogRecord[]> {
  return readAllRecords(storage, dir);
}
