/**
 * Typed trace events of the log layer (DESIGN.md principle 6). A LogWriter calls its optional
 * listener with these; with no listener nothing is built.
 *
 * Invariants:
 *  - Events about one writer are delivered in the order the actions happened.
 *  - 'record-logged' events arrive in strictly increasing LSN order.
 */
import type { LogRecordName } from '../format/record-types.js';

/** A trace event of the logger (record logged, buffer written, fsync, file rolled over and so on). */
export type LogEvent =
  /** A record was given its LSN and put in the in-memory buffer. */
  | { type: 'record-logged'; lsn: bigint; recordType: LogRecordName; bytes: number }
  /** The buffer was written to the current file (one write). */
  | { type: 'buffer-written'; file: string; offset: number; bytes: number; upToLsn: bigint }
  /** Every record up to upToLsn is durable: the current file was fsynced, or (an O_DSYNC log) the buffer write that carried them completed. */
  | { type: 'fsync'; file: string; upToLsn: bigint; waiters: number }
  /** A new log file was created (at open or at rollover) and the directory fsynced. */
  | { type: 'file-created'; file: string; index: number }
  /** The current file passed lgMax after a write and was closed; `to` is the new file. */
  | { type: 'rollover'; from: string; to: string; maxLsn: bigint; size: number }
  /**
   * The disk had no room (ENOSPC) for triedBytes of preallocated zeros at offset of file: they
   * were cut off again and later extensions are nextBytes (0: preallocation stopped).
   */
  | { type: 'preallocation-reduced'; file: string; offset: number; triedBytes: number; nextBytes: number }
  /** An old log file was deleted by trim(). */
  | { type: 'file-deleted'; file: string; maxLsn: bigint; trimLsn: bigint };

/** Receives logger trace events. */
export type LogListener = (event: LogEvent) => void;
