/** Shared helpers of the backup scenarios: an environment and a repository on one simulated disk. */
import { Env, type EnvOptions } from '../../src/engine/env.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { LocalStore } from '../../src/backup/store.js';
import { BackupRepo } from '../../src/backup/repo.js';
import { LogArchiver } from '../../src/backup/archive.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export function backupHarness(seed = 5) {
  const storage = new SimStorage({ seed });
  const clock = new VirtualClock();
  const open = (o: Partial<EnvOptions> = {}, dir = '/env') => Env.open(dir, { storage, clock, durability: 'sync', checkpointPeriodMs: 0, owner: 'tester', ...o });
  const repo = () => new BackupRepo(new LocalStore(storage, '/repo'));
  return { storage, clock, open, repo };
}

/** Every committed row of every user dictionary: { name: { key: value } }. */
export async function dumpAll(env: Env): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const name of await env.listDictionaries()) {
    const d = await env.openDictionary(name);
    const rows: Record<string, string> = {};
    for (const e of await d.committedRange({})) rows[dec(e.key)] = dec(e.value);
    out[name] = rows;
  }
  return out;
}

/** Open dir on storage (recovering it), dump it, close it. */
export async function dumpDir(storage: Storage, clock: VirtualClock, dir: string): Promise<Record<string, Record<string, string>>> {
  const env = await Env.open(dir, { storage, clock, durability: 'sync', checkpointPeriodMs: 0, owner: 'tester' });
  try {
    return await dumpAll(env);
  } finally {
    await env.close();
  }
}

/**
 * Three full backups of one dictionary with the log archived in between (2 KiB log files, so
 * the archive holds several), then 15 more rows; the environment is closed and the archive
 * drained. Returns the backups' names, oldest first, and the number of rows written.
 */
export async function repoWithArchive(h: ReturnType<typeof backupHarness>): Promise<{ names: string[]; rows: number }> {
  const repo = h.repo();
  const archiver = new LogArchiver(repo.store);
  const env = await h.open({ lgMax: 2048, logArchive: archiver });
  const t = await env.createDictionary('t');
  const names: string[] = [];
  let rows = 0;
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < 15; i++) await env.put(t, enc(`k${rows++}`), enc('v'.repeat(80)));
    names.push((await env.backup(repo, {})).name);
  }
  for (let i = 0; i < 15; i++) await env.put(t, enc(`k${rows++}`), enc('v'.repeat(80)));
  await env.close();
  await archiver.drain();
  return { names, rows };
}
