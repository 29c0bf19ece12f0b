/**
 * A backup repository (docs/backup.md): the backups that exist (those with a sentinel), their
 * manifests and chains, and the operations on them. `new BackupRepo(store)`; an environment
 * pushes to it with `env.backup(repo, opts)`.
 *
 * Invariants:
 *  - A backup is listed, fetched, verified or used as a delta parent only when its sentinel
 *    exists and names the sha256 of the manifest found (a manifest replaced after the
 *    sentinel was written is an error, not a silently different backup).
 *  - A chain is resolved from a delta to its full base through parents that all exist.
 */
import { TokusimError } from '../base/errors.js';
import type { BackupTarget } from '../engine/checkpoint-hold.js';
import type { Env } from '../engine/env.js';
import { recoveredContents } from './contents.js';
import { sha256Hex } from './hash.js';
import { defaultLeaseId, Lease } from './lease.js';
import { loadPushProgress, PUSH_PROGRESS_KEY } from './progress.js';
import { BASE_DIR, isBackupName, LOCK_KEY, manifestKey, parseManifest, parseSentinel, sentinelKey, SENTINEL_SUFFIX, type BackupManifest } from './manifest.js';
import { Pusher, type PushOptions } from './push.js';
import type { RepoStore } from './store.js';

export class BackupRepo implements BackupTarget<BackupManifest, PushOptions, Env> {
  private readonly cache = new Map<string, BackupManifest>();

  constructor(readonly store: RepoStore) {}

  /** Names of the backups that exist (sentinel written), oldest first. */
  async names(): Promise<string[]> {
    const out: string[] = [];
    for (const n of await this.store.list(BASE_DIR)) {
      if (!n.endsWith(SENTINEL_SUFFIX)) continue;
      const name = n.slice(0, -SENTINEL_SUFFIX.length);
      if (isBackupName(name)) out.push(name);
    }
    return out.sort();
  }

  /** The manifest of an existing backup, checked against its sentinel. */
  async manifest(name: string): Promise<BackupManifest> {
    const hit = this.cache.get(name);
    if (hit !== undefined) return hit;
    const s = await this.store.get(sentinelKey(name));
    if (s === undefined) throw new TokusimError('no-such-backup', `no backup named ${name} in ${this.store.where}`, { file: this.store.where, actual: name });
    const sentinel = parseSentinel(s, `${this.store.where}/${sentinelKey(name)}`);
    const where = `${this.store.where}/${manifestKey(name)}`;
    const bytes = await this.store.get(manifestKey(name));
    if (bytes === undefined) throw new TokusimError('truncated', `backup ${name} has a sentinel but no manifest`, { file: where });
    const sha = sha256Hex(bytes);
    if (sha !== sentinel.manifestSha256) throw new TokusimError('bad-checksum', `manifest of backup ${name} does not match its sentinel`, { file: where, expected: sentinel.manifestSha256, actual: sha });
    const m = parseManifest(bytes, where);
    if (m.name !== name) throw new TokusimError('bad-header', `manifest of backup ${name} names ${m.name}`, { file: where, expected: name, actual: m.name });
    this.cache.set(name, m);
    return m;
  }

  /** All existing backups' manifests, oldest first. */
  async manifests(): Promise<BackupManifest[]> {
    const out: BackupManifest[] = [];
    for (const n of await this.names()) out.push(await this.manifest(n));
    return out;
  }

  /** NAME, or LATEST: the newest backup. */
  async resolve(nameOrLatest: string): Promise<string> {
    if (nameOrLatest !== 'LATEST') return nameOrLatest;
    const names = await this.names();
    if (names.length === 0) throw new TokusimError('no-such-backup', `no backups in ${this.store.where}`, { file: this.store.where });
    return names[names.length - 1]!;
  }

  /** The chain from the full base to name (inclusive), base first. */
  async chain(name: string): Promise<BackupManifest[]> {
    const out: BackupManifest[] = [];
    for (let m: BackupManifest | undefined = await this.manifest(name); m !== undefined; ) {
      out.unshift(m);
      if (m.kind === 'full') return out;
      if (out.length > 10_000) break;
      m = await this.manifest(m.parent!);
    }
    throw new TokusimError('bad-header', `backup ${name}: its chain of parents does not end in a full backup`, { file: this.store.where, actual: name });
  }

  /** The parent a push with these options uses, or undefined for a full backup (WAL-G's rules). */
  async chooseParent(opts: PushOptions): Promise<BackupManifest | undefined> {
    const maxSteps = opts.deltaMaxSteps ?? 0;
    if (maxSteps <= 0) return undefined;
    const all = await this.manifests();
    if (all.length === 0) return undefined;
    const latest = all[all.length - 1]!;
    if (latest.deltaSteps >= maxSteps) return undefined;
    if ((opts.deltaOrigin ?? 'LATEST') === 'LATEST') return latest;
    return [...all].reverse().find((m) => m.kind === 'full');
  }

  /**
   * Env.backup(repo, opts): a hot backup of env, under the repository's lease, resuming an
   * interrupted push from its progress file (docs/backup.md "Resuming").
   */
  async pushFrom(env: Env, opts: PushOptions = {}): Promise<BackupManifest> {
    const now = (): number => Number(env.clock.nowMicros() / 1000n);
    const lease = await Lease.acquire(this.store, LOCK_KEY, { id: opts.leaseId ?? defaultLeaseId(), op: 'push', now, ...(opts.onWarning !== undefined ? { onWarning: opts.onWarning } : {}), ...(opts.leaseTtlMs !== undefined ? { ttlMs: opts.leaseTtlMs } : {}) });
    let ok = false;
    try {
      const parent = await this.chooseParent(opts);
      const interrupted = await loadPushProgress(this.store);
      const pusher = new Pusher(this.store, opts, parent, interrupted);
      pusher.afterPart = () => lease.refresh();
      let m: BackupManifest;
      try {
        const scratch = opts.contents;
        m = await pusher.run(env, scratch === undefined ? undefined : async (made) => {
          const chain = parent === undefined ? [made] : [...(await this.chain(parent.name)), made];
          made.contents = await recoveredContents(this, chain, scratch, { envOptions: { clock: env.clock, ...(env.options.updateFunctions !== undefined ? { updateFunctions: env.options.updateFunctions } : {}) } });
        });
      } catch (err) {
        // A push whose lease was taken over writes nothing more: the repository is another tool's now.
        if (!lease.lost) await pusher.saveProgressAfterFailure().catch(() => undefined);
        throw err;
      }
      this.cache.set(m.name, m);
      // The backup exists now; what an interrupted push left and this one did not use is garbage.
      for (const k of pusher.leftoverKeys(m)) await this.store.delete(k);
      await this.removeUnfinished(m);
      await this.store.delete(PUSH_PROGRESS_KEY);
      await this.store.sync();
      ok = true;
      return m;
    } finally {
      // A push that failed leaves its lease to expire only if it cannot delete it (a dead machine).
      await lease.release().catch((err: unknown) => {
        if (ok) throw err;
      });
    }
  }

  /** Delete the parts (except those m uses) and manifest of every backup directory without a sentinel. */
  private async removeUnfinished(m: BackupManifest): Promise<void> {
    const live = new Set(await this.names());
    const used = new Set(m.files.flatMap((f) => f.parts.map((p) => p.key)));
    for (const n of await this.store.list(BASE_DIR)) {
      if (!isBackupName(n) || live.has(n)) continue;
      for (const p of await this.store.list(`${BASE_DIR}/${n}/p`)) if (!used.has(`${BASE_DIR}/${n}/p/${p}`)) await this.store.delete(`${BASE_DIR}/${n}/p/${p}`);
      await this.store.delete(manifestKey(n));
    }
  }
}
