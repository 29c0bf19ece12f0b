/**
 * Typed trace events of the checkpointer (DESIGN.md principle 6). With no listener installed
 * the checkpointer builds no event objects at all.
 */

import type { GlobalLockName } from './locks.js';

/** The named points of DESIGN.md principle 4 where a test or the teaching mode may stop. */
export type CrashHookName =
  | 'afterBegin'
  | 'afterPendingPairsWritten'
  | 'afterHeadersBeforeEndCheckpoint'
  | 'afterEndCheckpoint'
  | 'duringTrim';

/** The named points of a checkpoint where a test can pause or crash it, in the order a checkpoint reaches them. */
export const CRASH_HOOK_NAMES: readonly CrashHookName[] = [
  'afterBegin',
  'afterPendingPairsWritten',
  'afterHeadersBeforeEndCheckpoint',
  'afterEndCheckpoint',
  'duringTrim',
];

/** Stages of a running checkpoint, in order (CP_FOOTPRINT steps 10..60 map onto them). */
export type CheckpointStage =
  | 'idle'
  | 'waiting-for-locks'
  | 'begin'
  | 'pending-pairs'
  | 'headers'
  | 'end-log'
  | 'rotate'
  | 'trim'
  | 'status';

/** A trace event of the checkpointer (global lock taken or released, stage reached and so on). */
export type CheckpointEvent =
  | { type: 'global-lock'; lock: GlobalLockName; mode: 'read' | 'write'; action: 'taken' | 'released'; holder: string }
  | { type: 'stage'; stage: CheckpointStage; footprint: number }
  | { type: 'cachefiles-pinned'; count: number }
  | { type: 'record-logged'; record: 'begin_checkpoint' | 'fassociate' | 'xstillopen' | 'xstillopenprepared' | 'end_checkpoint'; lsn: bigint }
  | { type: 'pending-bits-set'; count: number }
  | { type: 'header-cloned'; file: string; checkpointLsn: bigint; dirty: boolean }
  | { type: 'header-written'; file: string; slot: 0 | 1; checkpointCount: bigint }
  | { type: 'checkpoint-skipped'; file: string }
  | { type: 'translations-rotated'; file: string }
  | { type: 'log-trimmed'; trimLsn: bigint; deleted: readonly string[] }
  | { type: 'hook'; name: CrashHookName }
  | { type: 'checkpoint-done'; beginLsn: bigint; durationMicros: bigint }
  | { type: 'checkpoint-failed'; error: unknown }
  | { type: 'period-changed'; seconds: number };

/** Receives checkpointer trace events. */
export type CheckpointListener = (e: CheckpointEvent) => void;
