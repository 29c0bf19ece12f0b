/**
 * Key ranges in byte order: the bounds a read or a cursor is limited to, and the row type
 * reads return.
 *
 * Invariants:
 *  - inRange(k, {}) is true for every key; each bound only removes keys.
 */
import { compareKeys } from './btree/node.js';

/** A key range (byte order): at most one lower and one upper bound, the direction and a limit. */
export interface RangeOptions {
  /** Keys greater than this. */
  gt?: Uint8Array;
  /** Keys greater than or equal to this. */
  gte?: Uint8Array;
  /** Keys less than this. */
  lt?: Uint8Array;
  /** Keys less than or equal to this. */
  lte?: Uint8Array;
  /** Descending key order. */
  reverse?: boolean;
  /** At most this many entries (negative: no limit). */
  limit?: number;
}

/** One row: a key and its value (copies the caller may keep). */
export interface Entry {
  /** The key bytes. */
  key: Uint8Array;
  /** The value bytes. */
  value: Uint8Array;
}

/** Whether key lies inside r's bounds (direction and limit are ignored). */
export function inRange(key: Uint8Array, r: RangeOptions): boolean {
  if (r.gt !== undefined && compareKeys(key, r.gt) <= 0) return false;
  if (r.gte !== undefined && compareKeys(key, r.gte) < 0) return false;
  if (r.lt !== undefined && compareKeys(key, r.lt) >= 0) return false;
  if (r.lte !== undefined && compareKeys(key, r.lte) > 0) return false;
  return true;
}
