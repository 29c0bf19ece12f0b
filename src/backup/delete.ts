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
 */
import { TokusimError } from '../base/errors.js';
import { archivedLogs } from './archive.js';
import { defaultLeaseId, Lease } from './lease.js';
import { LOCK_KEY, manifestKey, sentinelKey, WAL_DIR, type BackupManifest } from './manifest.js';
import type { BackupRepo } from './repo.js';

export type DeleteTarget = { retain: number; fullOnly?: boolean } | { before: string; findFull?: boolean };

export interface DeletePlan {
  backups: string[];
  logs: string[];
  kept: string[];
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
  return { backups, logs, kept: kept.map((m) => m.name) };
}

/** Carry out a plan under the repository's lease (a push or another delete holding it is refused). */
export async function executeDelete(repo: BackupRepo, plan: DeletePlan, opts: { leaseId?: string; now?: () => number } = {}): Promise<void> {
  const lease = await Lease.acquire(repo.store, LOCK_KEY, { id: opts.leaseId ?? defaultLeaseId(), op: 'delete', now: opts.now ?? Date.now });
  try {
    await deleteUnderLease(repo, plan, () => lease.refresh());
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
