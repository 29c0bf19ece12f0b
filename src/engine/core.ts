/**
 * What a transaction needs from its environment (EnvCore, implemented by Env) and the
 * durability modes a commit can wait for. Txn depends on this interface only, never on Env,
 * so the engine's modules import one another in one direction.
 *
 * Invariants:
 *  - Every method that writes (log, updateRollbackNode, finishTxn, prepareTxn) is called only
 *    after checkWritableEnv (or checkNotFailed for an end of transaction) passed.
 */
import type { Xid } from '../format/record-types.js';
import type { Release } from '../checkpoint/locks.js';
import type { LogRecordInput } from '../log/writer.js';
import type { Snapshot } from './mvcc.js';

/**
 * What a commit waits for: `sync` (its log record is fsynced before commit() returns),
 * `periodic` (the log is fsynced every `periodMs`), `none` (durable at the next checkpoint).
 */
export type Durability = 'sync' | 'periodic' | 'none';

/**
 * @hidden The services a transaction (`T`, the engine's Txn) needs from its environment
 * (implemented by Env).
 */
export interface EnvCore<T> {
  /** Take txn's row write lock on key in the dictionary of that filenum. */
  lockRow(txn: T, dict: { readonly filenum: number }, key: Uint8Array): void;
  /** Take txn's row read lock on key (serializable reads). */
  lockRead(txn: T, dict: { readonly filenum: number }, key: Uint8Array): void;
  /** A snapshot of the committed state now (release it when done). */
  snapshot(): Snapshot;
  /** The multi-operation client lock: a checkpoint's begin waits for its holders. */
  clientLock(): Promise<Release>;
  /** Append a record to the log; returns its LSN. */
  log(rec: LogRecordInput): bigint;
  /** Apply mutate to txn's write set and mirror it in its rollback node. */
  updateRollbackNode(txn: T, mutate: () => void): Promise<void>;
  /** Count one row write (status counters). */
  noteWrite(): void;
  /** Commit or abort txn: log it, apply or undo its writes, release its locks. */
  finishTxn(txn: T, how: 'commit' | 'abort'): Promise<void>;
  /** Log xprepare for txn and keep it prepared across crashes. */
  prepareTxn(txn: T, xid: Xid): Promise<void>;
  /** Throws unless writes are allowed (open, not read-only, not failed). */
  checkWritableEnv(): void;
  /** Throws the failed-state error once a checkpoint failed. */
  checkNotFailed(): void;
  /** enq_update's extra for function name and argument (refuses unknown functions). */
  updateExtra(name: string, arg: Uint8Array): Uint8Array;
  /** Run update function name on old (TokusimError on failure). */
  applyUpdate(name: string, old: Uint8Array | undefined, arg: Uint8Array, where?: { lsn?: bigint; file?: string }): Uint8Array | undefined;
}
