/**
 * What begin_checkpoint needs from the transaction layer (spec checkpoint-algorithm.md §5
 * step 3.4): the last XID handed out and the live transactions, each of which is logged with
 * xstillopen (LIVE) or xstillopenprepared (PREPARING) unless it is read-only.
 *
 * Invariants:
 *  - Only 'live' and 'preparing' transactions are reported; any other state is a bug in the
 *    provider and fails the checkpoint (PerconaFT asserts).
 *  - Read-only transactions are not logged and not counted.
 */

import type { LogRecordFields } from '../format/record-types.js';

/** A transaction the checkpoint must record as still open: live or preparing, with the fields of its xstillopen record. */
export type LiveTxn =
  | { state: 'live'; readOnly: boolean; fields: LogRecordFields<'xstillopen'> }
  | { state: 'preparing'; readOnly: boolean; fields: LogRecordFields<'xstillopenprepared'> }
  /** Other states exist in the transaction layer; begin_checkpoint must never see them. */
  | { state: 'committing' | 'aborting' | 'retired'; readOnly: boolean; fields?: undefined };

/** What the checkpointer needs from the transaction manager: the last transaction id and the transactions still open. */
export interface TxnProvider {
  /** toku_txn_manager_get_last_xid: written into begin_checkpoint. */
  lastXid(): bigint;
  /** The live transactions at this instant (called under the MO write lock). */
  liveTxns(): Iterable<LiveTxn>;
}

/** The provider used until a transaction layer exists: no transactions, last XID 0. */
export const NO_TXNS: TxnProvider = {
  lastXid: () => 0n,
  liveTxns: () => [],
};
