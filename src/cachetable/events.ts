/**
 * Typed trace events of the cachetable (DESIGN.md principle 6).
 *
 * Emit sites call `emitter.emit?.({...})`: with no listener the optional call short-circuits
 * before the event object is even built, so tracing costs nothing when nobody listens.
 *
 * Invariants: events are emitted synchronously, in the order the state changes happen, and
 * a listener must not call back into the cachetable (it observes, it does not act).
 */

/** Who cleared a pending bit (the T-numbers of spec §10.1). */
export type PendingResolver = 'client' | 'checkpoint' | 'evictor' | 'remove';

/** A trace event of the cachetable (lock taken, pending bit set, pair cloned, pair written, eviction and so on). */
export type CachetableEvent =
  | { type: 'lock-taken'; lock: string; mode: 'read' | 'write'; task: string }
  | { type: 'pending-set'; cachefile: string; blocknum: bigint }
  | { type: 'pending-cleared'; cachefile: string; blocknum: bigint; by: PendingResolver; dirty: boolean }
  | { type: 'pair-cloned'; cachefile: string; blocknum: bigint; size: number; by: 'client' | 'checkpoint' }
  | {
      type: 'pair-written';
      cachefile: string;
      blocknum: bigint;
      forCheckpoint: boolean;
      isClone: boolean;
      bytes: number;
    }
  | { type: 'pair-evicted'; cachefile: string; blocknum: bigint; wasDirty: boolean; wasPending: boolean }
  | { type: 'pair-removed'; cachefile: string; blocknum: bigint; wasPending: boolean };

/** Receives cachetable trace events. */
export type CachetableListener = (event: CachetableEvent) => void;

/** Holder of the optional listener; shared by the cachetable and its locks. */
export interface CachetableEmitter {
  emit?: CachetableListener | undefined;
}
