/**
 * The names and sentinels log records use to refer to an environment's files (spec
 * tokulog-format.md §4, §7, §8; recovery.md §1): the inames of the environment's own
 * dictionaries, FILENUM_NONE, the "no rollback node" blocknum, and the trailing NUL that
 * frename's inames carry. Both readers of the log's meaning (recovery in engine/, the forensic
 * replay here) and the engine that writes the records take them from this one place.
 *
 * Invariants:
 *  - inameFromNul(inameWithNul(s)) === s for every string s without a NUL.
 *  - stripNul removes at most one byte, and only a trailing 0.
 */

/** The rollback-log dictionary: it holds undo logs, never rows. */
export const ROLLBACK_INAME = 'tokudb.rollback';
/** The environment dictionary (engine version and similar facts). */
export const ENVIRONMENT_INAME = 'tokudb.environment';
/** The directory dictionary: dictionary name -> iname. */
export const DIRECTORY_INAME = 'tokudb.directory';
/** The environment's internal dictionaries that hold real rows. */
export const SYSTEM_INAMES: readonly string[] = [DIRECTORY_INAME, ENVIRONMENT_INAME];
/** FILENUM_NONE (0xFFFFFFFF): "no dictionary" (frename's old_filenum when the file is not open, a sourceless put_multiple). */
export const FILENUM_NONE = 0xffffffff;
/** current_rollback of a transaction without a rollback node. */
export const NO_ROLLBACK_NODE = 0n;

/** An iname's bytes without their trailing NUL, if any (frename's inames carry one). */
export function stripNul(bytes: Uint8Array): Uint8Array {
  return bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.subarray(0, bytes.length - 1) : bytes;
}

/** frename's inames carry a trailing NUL (tokulog-format.md §4). */
export function inameWithNul(iname: string): Uint8Array {
  const b = new TextEncoder().encode(iname);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** An iname from record bytes: the trailing NUL (if any) removed. */
export function inameFromNul(bytes: Uint8Array): string {
  return new TextDecoder().decode(stripNul(bytes));
}
