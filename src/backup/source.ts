/**
 * What restoring needs of a repository (fetch.ts, contents.ts): its store and its backups'
 * chains. BackupRepo (repo.ts) is one; naming this instead of BackupRepo keeps repo.ts ->
 * contents.ts -> fetch.ts free of a cycle back to repo.ts.
 */
import type { BackupManifest } from './manifest.js';
import type { RepoStore } from './store.js';

export interface BackupSource {
  readonly store: RepoStore;
  /** NAME, or LATEST: the newest backup. */
  resolve(nameOrLatest: string): Promise<string>;
  /** The chain from the full base to name (inclusive), base first. */
  chain(name: string): Promise<BackupManifest[]>;
}
