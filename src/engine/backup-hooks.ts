/**
 * What an environment offers backups, as interfaces only: a target it can be backed up to and a
 * log archiver it feeds. Kept apart from checkpoint-hold.ts (which needs the Env class) so that
 * env.ts can name them without an import cycle; src/backup implements them.
 */
import type { Storage } from '../storage/storage.js';

/** Something an environment can back itself up to (Env.backup); implemented in src/backup. */
export interface BackupTarget<R, O, E> {
  /** Copy `env` as of a held checkpoint (the target decides how and where); resolves with its report. */
  pushFrom(env: E, opts: O): Promise<R>;
}

/**
 * A log archiver an environment feeds (EnvOptions.logArchive; implemented in src/backup):
 * told about every log file that closes, and asked which files trimming must keep.
 */
export interface LogArchiveHook {
  /** Index of the oldest log file not yet archived (Infinity when all are): trim keeps it and every later one. */
  keepFromIndex(): number;
  /** The logger closed this file (rollover): it will not change again. */
  fileClosed(path: string): void;
  /** Called once the logger is open: archive files closed before (a previous run). */
  start(storage: Storage, dir: string, currentPath: string): Promise<void>;
  /** Called at a clean close after the logger closed: archive what is left, wait for it. */
  finish(lastPath: string | undefined): Promise<void>;
}

