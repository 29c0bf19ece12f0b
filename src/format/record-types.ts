/**
 * The one table that describes every tokulog v29 log record type and every rollback entry
 * type (spec tokulog-format.md §7 and §8; PerconaFT ft/logger/logformat.cc `logtypes[]` and
 * `rollbacks[]`). The encoder, decoder, printer, TypeScript types, JSON form and fast-check
 * arbitraries are all derived from this table; nothing else describes a record.
 *
 * Invariants (checked when this module loads):
 *  - Command letters are unique within LOG_RECORD_TYPES and within ROLLBACK_ENTRY_TYPES.
 *  - Names are unique within each table.
 *  - Table order is PerconaFT's order (the printer's case order follows it).
 */

import { invariant } from '../base/errors.js';

/** The field types of logformat.cc. */
export type FieldType =
  | 'uint8_t'
  | 'uint32_t'
  | 'uint64_t'
  | 'bool'
  | 'LSN'
  | 'TXNID'
  | 'TXNID_PAIR'
  | 'FILENUM'
  | 'FILENUMS'
  | 'BLOCKNUM'
  | 'BYTESTRING'
  | 'XIDP';

/** A TXNID_PAIR: a root transaction is (id, 0n); a child is (root id, child id). */
export interface TxnidPair {
  parent: bigint;
  child: bigint;
}

/** An XA transaction id: formatID (u32 as stored), gtrid then bqual bytes in `data`. */
export interface Xid {
  formatID: number;
  gtridLength: number;
  bqualLength: number;
  data: Uint8Array;
}

/** The TypeScript value of each field type. */
export interface FieldValueMap {
  uint8_t: number;
  uint32_t: number;
  uint64_t: bigint;
  bool: boolean;
  LSN: bigint;
  TXNID: bigint;
  TXNID_PAIR: TxnidPair;
  FILENUM: number;
  FILENUMS: number[];
  BLOCKNUM: bigint;
  BYTESTRING: Uint8Array;
  XIDP: Xid;
}

/** One typed field of a log record or rollback entry, in on-disk order. */
export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** Printer format override: only 'o' (fcreate.mode printed as 0%o). */
  readonly format?: 'o';
}

/** How the writer treats the transaction's xbegin (spec §7 "Begin action"). */
export type BeginAction = 'ignore' | 'assert' | 'should-log';

/** The description of one log record type in the record-type table: its name, command letter and ordered fields. */
export interface LogRecordSpec {
  readonly name: string;
  readonly cmd: string;
  readonly fields: readonly FieldSpec[];
  readonly begin: BeginAction;
}

const f = <N extends string, T extends FieldType>(name: N, type: T) => ({ name, type }) as const;

/** All 27 log record types of version 29, in logformat.cc order. */
export const LOG_RECORD_TYPES = [
  { name: 'begin_checkpoint', cmd: 'x', begin: 'ignore', fields: [f('timestamp', 'uint64_t'), f('last_xid', 'TXNID')] },
  {
    name: 'end_checkpoint', cmd: 'X', begin: 'ignore',
    fields: [
      f('lsn_begin_checkpoint', 'LSN'), f('timestamp', 'uint64_t'),
      f('num_fassociate_entries', 'uint32_t'), f('num_xstillopen_entries', 'uint32_t'),
    ],
  },
  {
    name: 'fassociate', cmd: 'f', begin: 'ignore',
    fields: [f('filenum', 'FILENUM'), f('treeflags', 'uint32_t'), f('iname', 'BYTESTRING'), f('unlink_on_close', 'uint8_t')],
  },
  {
    name: 'xstillopen', cmd: 's', begin: 'assert',
    fields: [
      f('xid', 'TXNID_PAIR'), f('parentxid', 'TXNID_PAIR'), f('rollentry_raw_count', 'uint64_t'),
      f('open_filenums', 'FILENUMS'), f('force_fsync_on_commit', 'uint8_t'), f('num_rollback_nodes', 'uint64_t'),
      f('num_rollentries', 'uint64_t'), f('spilled_rollback_head', 'BLOCKNUM'), f('spilled_rollback_tail', 'BLOCKNUM'),
      f('current_rollback', 'BLOCKNUM'),
    ],
  },
  {
    name: 'xstillopenprepared', cmd: 'p', begin: 'assert',
    fields: [
      f('xid', 'TXNID_PAIR'), f('xa_xid', 'XIDP'), f('rollentry_raw_count', 'uint64_t'),
      f('open_filenums', 'FILENUMS'), f('force_fsync_on_commit', 'uint8_t'), f('num_rollback_nodes', 'uint64_t'),
      f('num_rollentries', 'uint64_t'), f('spilled_rollback_head', 'BLOCKNUM'), f('spilled_rollback_tail', 'BLOCKNUM'),
      f('current_rollback', 'BLOCKNUM'),
    ],
  },
  { name: 'xbegin', cmd: 'b', begin: 'ignore', fields: [f('xid', 'TXNID_PAIR'), f('parentxid', 'TXNID_PAIR')] },
  { name: 'xcommit', cmd: 'C', begin: 'assert', fields: [f('xid', 'TXNID_PAIR')] },
  { name: 'xprepare', cmd: 'P', begin: 'assert', fields: [f('xid', 'TXNID_PAIR'), f('xa_xid', 'XIDP')] },
  { name: 'xabort', cmd: 'q', begin: 'assert', fields: [f('xid', 'TXNID_PAIR')] },
  {
    name: 'fcreate', cmd: 'F', begin: 'should-log',
    fields: [
      f('xid', 'TXNID_PAIR'), f('filenum', 'FILENUM'), f('iname', 'BYTESTRING'),
      { name: 'mode', type: 'uint32_t', format: 'o' } as const,
      f('treeflags', 'uint32_t'), f('nodesize', 'uint32_t'), f('basementnodesize', 'uint32_t'),
      f('compression_method', 'uint32_t'),
    ],
  },
  { name: 'fopen', cmd: 'O', begin: 'ignore', fields: [f('iname', 'BYTESTRING'), f('filenum', 'FILENUM'), f('treeflags', 'uint32_t')] },
  { name: 'fclose', cmd: 'e', begin: 'ignore', fields: [f('iname', 'BYTESTRING'), f('filenum', 'FILENUM')] },
  { name: 'fdelete', cmd: 'U', begin: 'should-log', fields: [f('xid', 'TXNID_PAIR'), f('filenum', 'FILENUM')] },
  {
    name: 'frename', cmd: 'n', begin: 'ignore',
    fields: [f('xid', 'TXNID_PAIR'), f('old_iname', 'BYTESTRING'), f('old_filenum', 'FILENUM'), f('new_iname', 'BYTESTRING')],
  },
  {
    name: 'enq_insert', cmd: 'I', begin: 'should-log',
    fields: [f('filenum', 'FILENUM'), f('xid', 'TXNID_PAIR'), f('key', 'BYTESTRING'), f('value', 'BYTESTRING')],
  },
  {
    name: 'enq_insert_no_overwrite', cmd: 'i', begin: 'should-log',
    fields: [f('filenum', 'FILENUM'), f('xid', 'TXNID_PAIR'), f('key', 'BYTESTRING'), f('value', 'BYTESTRING')],
  },
  { name: 'enq_delete_any', cmd: 'E', begin: 'should-log', fields: [f('filenum', 'FILENUM'), f('xid', 'TXNID_PAIR'), f('key', 'BYTESTRING')] },
  {
    name: 'enq_insert_multiple', cmd: 'm', begin: 'should-log',
    fields: [
      f('src_filenum', 'FILENUM'), f('dest_filenums', 'FILENUMS'), f('xid', 'TXNID_PAIR'),
      f('src_key', 'BYTESTRING'), f('src_val', 'BYTESTRING'),
    ],
  },
  {
    name: 'enq_delete_multiple', cmd: 'M', begin: 'should-log',
    fields: [
      f('src_filenum', 'FILENUM'), f('dest_filenums', 'FILENUMS'), f('xid', 'TXNID_PAIR'),
      f('src_key', 'BYTESTRING'), f('src_val', 'BYTESTRING'),
    ],
  },
  { name: 'comment', cmd: 'T', begin: 'ignore', fields: [f('timestamp', 'uint64_t'), f('comment', 'BYTESTRING')] },
  { name: 'shutdown_up_to_19', cmd: 'Q', begin: 'ignore', fields: [f('timestamp', 'uint64_t')] },
  { name: 'shutdown', cmd: '0', begin: 'ignore', fields: [f('timestamp', 'uint64_t'), f('last_xid', 'TXNID')] },
  { name: 'load', cmd: 'l', begin: 'should-log', fields: [f('xid', 'TXNID_PAIR'), f('old_filenum', 'FILENUM'), f('new_iname', 'BYTESTRING')] },
  { name: 'hot_index', cmd: 'h', begin: 'should-log', fields: [f('xid', 'TXNID_PAIR'), f('hot_index_filenums', 'FILENUMS')] },
  {
    name: 'enq_update', cmd: 'u', begin: 'should-log',
    fields: [f('filenum', 'FILENUM'), f('xid', 'TXNID_PAIR'), f('key', 'BYTESTRING'), f('extra', 'BYTESTRING')],
  },
  {
    name: 'enq_updatebroadcast', cmd: 'B', begin: 'should-log',
    fields: [f('filenum', 'FILENUM'), f('xid', 'TXNID_PAIR'), f('extra', 'BYTESTRING'), f('is_resetting_op', 'bool')],
  },
  {
    name: 'change_fdescriptor', cmd: 'D', begin: 'should-log',
    fields: [
      f('filenum', 'FILENUM'), f('xid', 'TXNID_PAIR'), f('old_descriptor', 'BYTESTRING'),
      f('new_descriptor', 'BYTESTRING'), f('update_cmp_descriptor', 'bool'),
    ],
  },
] as const satisfies readonly LogRecordSpec[];

/** The description of one rollback entry type (the undo entries kept in tokudb.rollback): its name, command letter and ordered fields. */
export interface RollbackEntrySpec {
  readonly name: string;
  readonly cmd: string;
  readonly fields: readonly FieldSpec[];
}

/** The rollback (undo) entry types, stored in tokudb.rollback nodes, not in the redo log. */
export const ROLLBACK_ENTRY_TYPES = [
  { name: 'fdelete', cmd: 'U', fields: [f('filenum', 'FILENUM')] },
  { name: 'fcreate', cmd: 'F', fields: [f('filenum', 'FILENUM'), f('iname', 'BYTESTRING')] },
  { name: 'frename', cmd: 'n', fields: [f('old_iname', 'BYTESTRING'), f('new_iname', 'BYTESTRING')] },
  { name: 'cmdinsert', cmd: 'i', fields: [f('filenum', 'FILENUM'), f('key', 'BYTESTRING')] },
  { name: 'cmddelete', cmd: 'd', fields: [f('filenum', 'FILENUM'), f('key', 'BYTESTRING')] },
  {
    name: 'rollinclude', cmd: 'r',
    fields: [f('xid', 'TXNID_PAIR'), f('num_nodes', 'uint64_t'), f('spilled_head', 'BLOCKNUM'), f('spilled_tail', 'BLOCKNUM')],
  },
  { name: 'load', cmd: 'l', fields: [f('old_filenum', 'FILENUM'), f('new_iname', 'BYTESTRING')] },
  { name: 'hot_index', cmd: 'h', fields: [f('hot_index_filenums', 'FILENUMS')] },
  { name: 'dictionary_redirect', cmd: 'R', fields: [f('old_filenum', 'FILENUM'), f('new_filenum', 'FILENUM')] },
  { name: 'cmdupdate', cmd: 'u', fields: [f('filenum', 'FILENUM'), f('key', 'BYTESTRING')] },
  { name: 'cmdupdatebroadcast', cmd: 'B', fields: [f('filenum', 'FILENUM'), f('is_resetting_op', 'bool')] },
  { name: 'change_fdescriptor', cmd: 'D', fields: [f('filenum', 'FILENUM'), f('old_descriptor', 'BYTESTRING')] },
] as const satisfies readonly RollbackEntrySpec[];

// ---- Types derived from the tables ------------------------------------------------------

type Table = typeof LOG_RECORD_TYPES;
type Entry = Table[number];

/** The name of every log record type. */
export type LogRecordName = Entry['name'];

type FieldsOf<E extends { fields: readonly FieldSpec[] }> = {
  -readonly [F in E['fields'][number] as F['name']]: FieldValueMap[F['type']];
};

/** A decoded log record: its type name, LSN and typed fields. */
export type LogRecordOf<N extends LogRecordName> = {
  type: N;
  lsn: bigint;
} & FieldsOf<Extract<Entry, { name: N }>>;

/** The union of every log record. Narrow on `type`. */
export type LogRecord = { [N in LogRecordName]: LogRecordOf<N> }[LogRecordName];

/** The fields of one record type, without type and lsn (what a writer passes). */
export type LogRecordFields<N extends LogRecordName> = FieldsOf<Extract<Entry, { name: N }>>;

type RbEntry = (typeof ROLLBACK_ENTRY_TYPES)[number];
/** The name of a rollback entry type, such as `rollinclude` or `cmdinsert`. */
export type RollbackEntryName = RbEntry['name'];
/** The decoded form of one rollback entry type: `type` plus its fields by name. */
export type RollbackEntryOf<N extends RollbackEntryName> = { type: N } & FieldsOf<Extract<RbEntry, { name: N }>>;
/** A decoded rollback entry of any type, discriminated by `type`. */
export type RollbackEntry = { [N in RollbackEntryName]: RollbackEntryOf<N> }[RollbackEntryName];

// ---- Lookup by command byte and name (built once, checked) ------------------------------

/** Log record spec by command byte (0..255); undefined for an unknown command. */
export const LOG_SPEC_BY_CMD: ReadonlyArray<LogRecordSpec | undefined> = buildByCmd(LOG_RECORD_TYPES, 'log record');
/** Rollback entry spec by command byte. */
export const ROLLBACK_SPEC_BY_CMD: ReadonlyArray<RollbackEntrySpec | undefined> = buildByCmd(ROLLBACK_ENTRY_TYPES, 'rollback entry');

/** Log record specs by record name; every name in the table is present. */
export const LOG_SPEC_BY_NAME: ReadonlyMap<string, LogRecordSpec> = buildByName(LOG_RECORD_TYPES, 'log record');
/** Rollback entry specs by entry name; every name in the table is present. */
export const ROLLBACK_SPEC_BY_NAME: ReadonlyMap<string, RollbackEntrySpec> = buildByName(ROLLBACK_ENTRY_TYPES, 'rollback entry');

/** Length of the longest log record name (23, enq_insert_no_overwrite): the printer's column. */
export const LOG_NAME_WIDTH: number = Math.max(...LOG_RECORD_TYPES.map((t) => t.name.length));

function buildByCmd<T extends { name: string; cmd: string }>(table: readonly T[], what: string): Array<T | undefined> {
  const byCmd: Array<T | undefined> = new Array(256).fill(undefined);
  for (const t of table) {
    invariant(t.cmd.length === 1, `${what} ${t.name} has a command of length ${t.cmd.length}`);
    const c = t.cmd.charCodeAt(0);
    const prev = byCmd[c];
    invariant(prev === undefined, () => `duplicate ${what} command '${t.cmd}' for ${t.name} and ${prev?.name}`);
    byCmd[c] = t;
  }
  return byCmd;
}

function buildByName<T extends { name: string }>(table: readonly T[], what: string): Map<string, T> {
  const m = new Map<string, T>();
  for (const t of table) {
    invariant(!m.has(t.name), `duplicate ${what} name ${t.name}`);
    m.set(t.name, t);
  }
  return m;
}

/** Exposed for tests: the duplicate check, applied to any table. */
export function checkCommandTable(table: readonly { name: string; cmd: string }[]): void {
  buildByCmd(table, 'record');
}
