/**
 * Holding a checkpoint for a hot backup (docs/backup.md "The consistency point"), PerconaFT's
 * checkpointing_postpone: take a checkpoint, then hold the checkpoint-safe lock in write mode
 * until release(). While it is held no checkpoint runs, and no dictionary file is created,
 * renamed, deleted or closed (those take the checkpoint-safe client lock), so the newest
 * header of every dictionary file and every block its translation names stay as they are on
 * disk (block-table.ts frees a block only when no translation refers to it, and the
 * checkpointed translation changes only at a checkpoint's end or an ft_close). Row commits
 * keep running.
 *
 * Invariants:
 *  - release() is called exactly once; until then checkpoints and file operations wait.
 *  - checkpointLsn is the begin LSN of the last checkpoint whose end_checkpoint is durable,
 *    read after the lock was taken, so it is the consistency point of the files on disk.
 */
import { invariant } from '../base/errors.js';
import { GlobalLockHolder } from '../checkpoint/locks.js';
import type { Env } from './env.js';
import type { Storage } from '../storage/storage.js';

export type { BackupTarget, LogArchiveHook } from './backup-hooks.js';

/** A checkpoint held for a backup: the files of the environment do not change until release(). */
export interface CheckpointHold {
  /** The environment directory and the storage its files live on. */
  readonly dir: string;
  readonly storage: Storage;
  /** begin LSN of the held checkpoint (the consistency point). */
  readonly checkpointLsn: bigint;
  /** Checkpoints completed by this process so far (CP_CHECKPOINT_COUNT). */
  readonly checkpointCount: bigint;
  /** Write the log buffer to its files and return the LSN of the last record written. */
  flushLog(): Promise<bigint>;
  /** Let checkpoints and file operations run again. */
  release(): void;
}

/**
 * Take a checkpoint and hold it (see the top of this file). With `reuseAt`, a resumed backup
 * holds the last completed checkpoint instead when its begin LSN is reuseAt (so the files
 * are the ones the interrupted copy read); any checkpoint holds its translation just as well.
 */
export async function holdCheckpoint(env: Env, opts: { reuseAt?: bigint } = {}): Promise<CheckpointHold> {
  env.checkWritableEnv();
  if (opts.reuseAt === undefined || env.checkpointer?.lastCompletedCheckpointLsn !== opts.reuseAt) await env.checkpoint('client');
  const holder = new GlobalLockHolder('backup (checkpointing postponed)');
  await env.locks.acquire(holder, 'checkpointSafe', 'write');
  let released = false;
  const release = (): void => {
    invariant(!released, 'a checkpoint hold is released once');
    released = true;
    env.locks.release(holder, 'checkpointSafe', 'write');
  };
  try {
    env.checkNotFailed();
    const cp = env.checkpointer;
    const w = env.logWriter;
    invariant(cp !== undefined && w !== undefined, 'a writable environment has a checkpointer and a logger');
    return {
      dir: env.dir,
      storage: env.storage,
      checkpointLsn: cp.lastCompletedCheckpointLsn,
      checkpointCount: cp.getStatus().CP_CHECKPOINT_COUNT,
      flushLog: async () => {
        await w.flush();
        return w.writtenLsn;
      },
      release,
    };
  } catch (err) {
    release();
    throw err;
  }
}
