/**
 * `backup delete` with WAL-G's semantics (docs/backup.md): `retain N [--full]` and
 * `before NAME [--find-full]`, a dry run unless confirmed, never orphaning a delta, and
 * deleting archived log files no remaining backup needs.
 *
 * Invariants:
 *  - The plan never deletes a backup that a kept backup's chain contains.
 *  - Execution removes every chosen sentinel first (newest first, so a delta disappears
 *    before its parent), makes that durable, then parts and manifests, then log files: a
 *    crash at any point leaves only backups that are whole, plus invisible garbage.
 *  - Archived log files go oldest first, each sidecar durably before the next and before any
 *    data: the archive never lists a file whose data is gone, nor gets a hole.
 *  - Leftovers (findLeftovers: what a crash left that nothing lists) are removed only by a
 *    confirmed delete, last, and only these: archived log data files under wal/ with a log
 *    file's name and no sidecar whose records all lie before the oldest kept backup's log
 *    (no backup can need them; a crash between a delete's two steps leaves exactly such
 *    files), while also holding the archive's lease (no `log archive` is between its data
 *    and its sidecar; if another holds it they wait for the next delete); and the objects of
 *    backup directories under basebackups/ with a backup's name, no sentinel, and not the
 *    backup an interrupted push resumes (its progress file names it).
 */
import { TokusimError } from '../base/errors.js';
import { parseLogFileName } from '../log/names.js';
import { archivedLogs } from './archive.js';
import { defaultLeaseId, Lease } from './lease.js';
import { scanLogBytes } from './log-bytes.js';
import { BASE_DIR, isBackupName, LOCK_KEY, manifestKey, SENTINEL_SUFFIX, sentinelKey, WAL_DIR, WAL_LOCK_KEY, type BackupManifest } from './manifest.js';
import { loadPushProgress } from './progress.js';
import type { BackupRepo } from './repo.js';

export type DeleteTarget = { retain: number; fullOnly?: boolean } | { before: string; findFull?: boolean };

export interface DeletePlan {
  backups: string[];
  logs: string[];
  kept: string[];
  /** Leftovers of earlier runs this delete removes too (see the invariants). */
  leftovers: Leftovers;
}

/** What interrupted runs left in a repository that no sentinel or sidecar names. */
export interface Leftovers {
  /** Archived log data files (names under wal/) without a sidecar. */
  logs: string[];
  /** Backup directories (names under basebackups/) without a sentinel, other than the one an interrupted push resumes. */
  backups: string[];
}

/** Every leftover in the repository (verify warns of them; planDelete picks those it may remove). */
export async function findLeftovers(repo: BackupRepo): Promise<Leftovers> {
  const wal = await repo.store.list(WAL_DIR);
  const sidecars = new Set(wal.filter((n) => n.endsWith('.json')));
  const logs = wal.filter((n) => parseLogFileName(n) !== undefined && !sidecars.has(`${n}.json`));
  const base = await repo.store.list(BASE_DIR);
  const live = new Set(base.filter((n) => n.endsWith(SENTINEL_SUFFIX)).map((n) => n.slice(0, -SENTINEL_SUFFIX.length)));
  const resumed = (await loadPushProgress(repo.store))?.name;
  const backups: string[] = [];
  for (const n of base) {
    if (!isBackupName(n) || live.has(n) || n === resumed) continue;
    // A local directory keeps the (empty) directories of a finished delete: only objects count.
    if ((await repo.store.list(`${BASE_DIR}/${n}/p`)).length > 0 || (await repo.store.get(manifestKey(n))) !== undefined) backups.push(n);
  }
  return { logs, backups };
}

/** The last LSN of a leftover archived log file, or undefined when its bytes hold no whole record. */
async function leftoverLastLsn(repo: BackupRepo, name: string): Promise<bigint | undefined> {
  const key = `${WAL_DIR}/${name}`;
  const bytes = await repo.store.get(key);
  if (bytes === undefined) return undefined;
  return scanLogBytes(bytes, `${repo.store.where}/${key}`).lastLsn;
}

function chainOf(m: BackupManifest, byName: Map<string, BackupManifest>): string[] {
  const out: string[] = [];
  for (let c: BackupManifest | undefined = m; c !== undefined; c = c.parent === null ? undefined : byName.get(c.parent)) out.push(c.name);
  return out;
}

export async function planDelete(repo: BackupRepo, target: DeleteTarget): Promise<DeletePlan> {
  const all = await repo.manifests();
  const byName = new Map(all.map((m) => [m.name, m]));
  let keepFrom: number;
  if ('retain' in target) {
    if (!Number.isInteger(target.retain) || target.retain < 1) throw new TokusimError('bad-argument', 'delete retain: N is a whole number >= 1', { actual: String(target.retain) });
    const counted = all.map((m, i) => ({ m, i })).filter(({ m }) => target.fullOnly !== true || m.kind === 'full');
    keepFrom = counted.length <= target.retain ? 0 : counted[counted.length - target.retain]!.i;
  } else {
    const i = all.findIndex((m) => m.name === target.before);
    if (i < 0) throw new TokusimError('no-such-backup', `delete before: no backup named ${target.before}`, { actual: target.before });
    keepFrom = i;
    const m = all[i]!;
    if (m.kind === 'delta') {
      if (target.findFull !== true) {
        throw new TokusimError('bad-argument', `delete before ${m.name}: it is a delta whose chain starts earlier; deleting before it would orphan it (use --find-full to keep its full base)`, { actual: m.name });
      }
    }
  }
  const keep = new Set<string>();
  for (const m of all.slice(keepFrom)) for (const n of chainOf(m, byName)) keep.add(n);
  const backups = all.filter((m) => !keep.has(m.name)).map((m) => m.name);
  const kept = all.filter((m) => keep.has(m.name));
  const oldestNeeded = kept.length === 0 ? undefined : kept.map((m) => BigInt(m.log.firstLsn)).reduce((a, b) => (a < b ? a : b));
  const logs = (await archivedLogs(repo.store)).filter((a) => oldestNeeded !== undefined && BigInt(a.lastLsn) < oldestNeeded).map((a) => a.name);
  const found = await findLeftovers(repo);
  const leftovers: Leftovers = { logs: [], backups: found.backups };
  if (oldestNeeded !== undefined) {
    for (const n of found.logs) {
      const last = await leftoverLastLsn(repo, n);
      if (last !== undefined && last < oldestNeeded) leftovers.logs.push(n);
    }
  }
  return { backups, logs, kept: kept.map((m) => m.name), leftovers };
}

/** Carry out a plan under the repository's lease (a push or another delete holding it is refused). */
export async function executeDelete(repo: BackupRepo, plan: DeletePlan, opts: { leaseId?: string; now?: () => number; onWarning?: (message: string) => void } = {}): Promise<void> {
  const id = opts.leaseId ?? defaultLeaseId();
  const now = opts.now ?? Date.now;
  const lease = await Lease.acquire(repo.store, LOCK_KEY, { id, op: 'delete', now, ...(opts.onWarning !== undefined ? { onWarning: opts.onWarning } : {}) });
  try {
    await deleteUnderLease(repo, plan, () => lease.refresh());
    await removeLeftovers(repo, plan.leftovers, () => lease.refresh(), { id, now, ...(opts.onWarning !== undefined ? { onWarning: opts.onWarning } : {}) });
  } catch (err) {
    await lease.release().catch(() => undefined);
    throw err;
  }
  await lease.release();
}

async function deleteUnderLease(repo: BackupRepo, plan: DeletePlan, refresh: () => Promise<void>): Promise<void> {
  const manifests = new Map<string, BackupManifest>();
  for (const n of plan.backups) manifests.set(n, await repo.manifest(n));
  for (const n of [...plan.backups].reverse()) await repo.store.delete(sentinelKey(n));
  await repo.store.sync();
  for (const n of plan.backups) {
    const m = manifests.get(n)!;
    const keys = new Set<string>();
    for (const f of m.files) {
      for (const p of f.parts) keys.add(p.key);
      for (const c of f.delta?.changed ?? []) keys.add(c.part);
      if (f.delta !== undefined) keys.add(f.delta.headerPart.replace(/@.*$/, ''));
    }
    for (const k of keys) await repo.store.delete(k);
    await repo.store.delete(manifestKey(n));
    await refresh();
  }
  // Sidecars first, oldest first, each made durable before the next, then the data: an archived
  // file is listed by its sidecar, so a crash leaves the archive listing a contiguous run of
  // whole files (no hole where an older sidecar's removal was lost and a newer one's was not),
  // never a listed file without its data.
  for (const l of plan.logs) {
    await repo.store.delete(`${WAL_DIR}/${l}.json`);
    await repo.store.sync();
  }
  for (const l of plan.logs) await repo.store.delete(`${WAL_DIR}/${l}`);
  await repo.store.sync();
}

async function removeLeftovers(repo: BackupRepo, leftovers: Leftovers | undefined, refresh: () => Promise<void>, lease: { id: string; now: () => number; onWarning?: (message: string) => void }): Promise<void> {
  if (leftovers === undefined) return;
  for (const n of leftovers.backups) {
    // Re-checked under the lease: a push that was interrupted after the plan was made may have started it.
    if ((await repo.store.get(sentinelKey(n))) !== undefined || (await loadPushProgress(repo.store))?.name === n) continue;
    for (const p of await repo.store.list(`${BASE_DIR}/${n}/p`)) await repo.store.delete(`${BASE_DIR}/${n}/p/${p}`);
    await repo.store.delete(manifestKey(n));
    await refresh();
  }
  await repo.store.sync();
  if (leftovers.logs.length === 0) return;
  let walLease: Lease;
  try {
    // An id apart from an archiver's of this same process (default ids are host:pid): never taken as its own.
    walLease = await Lease.acquire(repo.store, WAL_LOCK_KEY, { id: `${lease.id}/delete`, op: 'delete', now: lease.now, ...(lease.onWarning !== undefined ? { onWarning: lease.onWarning } : {}) });
  } catch (err) {
    // A `log archive` at work: its data file may be one of these, with the sidecar still to come.
    if (err instanceof TokusimError && err.code === 'TOKUSIM_REPO_LOCKED') return;
    throw err;
  }
  try {
    for (const l of leftovers.logs) {
      if ((await repo.store.get(`${WAL_DIR}/${l}.json`)) !== undefined) continue;
      await repo.store.delete(`${WAL_DIR}/${l}`);
    }
    await repo.store.sync();
  } finally {
    await walLease.release();
  }
}
