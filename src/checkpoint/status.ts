/**
 * Checkpoint status rows with PerconaFT's names and update rules (spec checkpoint-algorithm.md
 * §9) and the stage report of the running checkpoint.
 *
 * Invariants:
 *  - CP_TIME_* are Unix seconds; CP_TIME_CHECKPOINT_DURATION(_LAST) are differences of those
 *    seconds; CP_BEGIN_TIME / CP_END_TIME and the LONG variants are microseconds.
 *  - CP_LONG_BEGIN_* grow only for begins of at least 1 s, CP_LONG_END_* only for ends of at
 *    least 60 s.
 *  - CP_CHECKPOINT_COUNT_FAIL is declared and never incremented, as in PerconaFT.
 *  - CP_WAITERS_MAX >= CP_WAITERS_NOW after every update of the maximum.
 */

import type { CheckpointStage } from './events.js';

/** A checkpoint's begin phase that takes longer than this many microseconds is counted as long. */
export const CP_BEGIN_LONG_THRESHOLD_MICROS = 1_000_000n;
/** A checkpoint's end phase that takes longer than this many microseconds is counted as long. */
export const CP_END_LONG_THRESHOLD_MICROS = 60_000_000n;

/** checkpoint_caller_t. */
export const CheckpointCaller = {
  scheduled: 0,
  client: 1,
  indexer: 2,
  startup: 3,
  upgrade: 4,
  recovery: 5,
  shutdown: 6,
} as const;
/** Who asked for a checkpoint (scheduled, client, indexer, startup, upgrade, recovery or shutdown). */
export type CheckpointCallerName = keyof typeof CheckpointCaller;

/** The status rows, keyed by PerconaFT's enum names. All values are uint64 (bigint). */
export interface CheckpointStatus {
  CP_PERIOD: bigint;
  CP_FOOTPRINT: bigint;
  CP_TIME_LAST_CHECKPOINT_BEGIN: bigint;
  CP_TIME_LAST_CHECKPOINT_BEGIN_COMPLETE: bigint;
  CP_TIME_LAST_CHECKPOINT_END: bigint;
  CP_TIME_CHECKPOINT_DURATION: bigint;
  CP_TIME_CHECKPOINT_DURATION_LAST: bigint;
  CP_LAST_LSN: bigint;
  CP_CHECKPOINT_COUNT: bigint;
  CP_CHECKPOINT_COUNT_FAIL: bigint;
  CP_WAITERS_NOW: bigint;
  CP_WAITERS_MAX: bigint;
  CP_CLIENT_WAIT_ON_MO: bigint;
  CP_CLIENT_WAIT_ON_CS: bigint;
  CP_BEGIN_TIME: bigint;
  CP_LONG_BEGIN_TIME: bigint;
  CP_LONG_BEGIN_COUNT: bigint;
  CP_END_TIME: bigint;
  CP_LONG_END_TIME: bigint;
  CP_LONG_END_COUNT: bigint;
}

/** The legacy keys and descriptions PerconaFT prints ("checkpoint: ..."). */
export const CHECKPOINT_STATUS_ROWS: ReadonlyArray<{ key: keyof CheckpointStatus; legacy: string; description: string }> = [
  { key: 'CP_PERIOD', legacy: 'CHECKPOINT_PERIOD', description: 'period' },
  { key: 'CP_FOOTPRINT', legacy: 'CHECKPOINT_FOOTPRINT', description: 'footprint' },
  { key: 'CP_TIME_LAST_CHECKPOINT_BEGIN', legacy: 'CHECKPOINT_LAST_BEGAN', description: 'last checkpoint began' },
  { key: 'CP_TIME_LAST_CHECKPOINT_BEGIN_COMPLETE', legacy: 'CHECKPOINT_LAST_COMPLETE_BEGAN', description: 'last complete checkpoint began' },
  { key: 'CP_TIME_LAST_CHECKPOINT_END', legacy: 'CHECKPOINT_LAST_COMPLETE_ENDED', description: 'last complete checkpoint ended' },
  { key: 'CP_TIME_CHECKPOINT_DURATION', legacy: 'CHECKPOINT_DURATION', description: 'time spent during checkpoint (begin and end phases)' },
  { key: 'CP_TIME_CHECKPOINT_DURATION_LAST', legacy: 'CHECKPOINT_DURATION_LAST', description: 'time spent during last checkpoint (begin and end phases)' },
  { key: 'CP_LAST_LSN', legacy: 'CHECKPOINT_LAST_LSN', description: 'last complete checkpoint LSN' },
  { key: 'CP_CHECKPOINT_COUNT', legacy: 'CHECKPOINT_TAKEN', description: 'checkpoints taken ' },
  { key: 'CP_CHECKPOINT_COUNT_FAIL', legacy: 'CHECKPOINT_FAILED', description: 'checkpoints failed' },
  { key: 'CP_WAITERS_NOW', legacy: 'CHECKPOINT_WAITERS_NOW', description: 'waiters now' },
  { key: 'CP_WAITERS_MAX', legacy: 'CHECKPOINT_WAITERS_MAX', description: 'waiters max' },
  { key: 'CP_CLIENT_WAIT_ON_MO', legacy: 'CHECKPOINT_CLIENT_WAIT_ON_MO', description: 'non-checkpoint client wait on mo lock' },
  { key: 'CP_CLIENT_WAIT_ON_CS', legacy: 'CHECKPOINT_CLIENT_WAIT_ON_CS', description: 'non-checkpoint client wait on cs lock' },
  { key: 'CP_BEGIN_TIME', legacy: 'CHECKPOINT_BEGIN_TIME', description: 'checkpoint begin time' },
  { key: 'CP_LONG_BEGIN_TIME', legacy: 'CHECKPOINT_LONG_BEGIN_TIME', description: 'long checkpoint begin time' },
  { key: 'CP_LONG_BEGIN_COUNT', legacy: 'CHECKPOINT_LONG_BEGIN_COUNT', description: 'long checkpoint begin count' },
  { key: 'CP_END_TIME', legacy: 'CHECKPOINT_END_TIME', description: 'checkpoint end time' },
  { key: 'CP_LONG_END_TIME', legacy: 'CHECKPOINT_LONG_END_TIME', description: 'long checkpoint end time' },
  { key: 'CP_LONG_END_COUNT', legacy: 'CHECKPOINT_LONG_END_COUNT', description: 'long checkpoint end count' },
];

/** A checkpoint status with every counter at zero. */
export function newCheckpointStatus(): CheckpointStatus {
  const s = {} as Record<keyof CheckpointStatus, bigint>;
  for (const r of CHECKPOINT_STATUS_ROWS) s[r.key] = 0n;
  return s;
}

/** The running (or last) checkpoint, for polling or subscription. */
export interface StageReport {
  stage: CheckpointStage;
  caller: CheckpointCallerName | null;
  /** LSN of begin_checkpoint of the running checkpoint (0 before it is logged / without a log). */
  beginLsn: bigint;
  /** Pending bits set at begin and not yet resolved (by anyone). */
  pairsPending: number;
  /** PAIRs written for this checkpoint so far (by any thread), and how many of them were clones. */
  pairsWritten: number;
  pairsCloned: number;
  /** Bytes of PAIR images written for this checkpoint so far. */
  bytesWritten: number;
  /** Headers written / dictionaries skipped so far. */
  headersWritten: number;
  dictionariesSkipped: number;
  /** Duration of the last completed checkpoint in ms of the checkpointer's clock (null: none yet). */
  lastDurationMs: number | null;
}
