/**
 * The merge at the heart of extract: a dictionary's rows as its file holds them (the
 * checkpointed tree, streamed in key order) overlaid with what the log after that checkpoint
 * changed (the forensic replay's rows, deletes and undetermined keys of that dictionary).
 *
 * Only the overlay is held in memory: it is as large as the log tail, never as large as the
 * dictionary. The file's rows pass through one at a time.
 *
 * Invariants (checked):
 *  - The overlay's rows, deleted keys and undetermined keys are pairwise disjoint (the
 *    replay guarantees it; a violation is a bug, not bad input).
 *  - Every key is emitted at most once, and each overlay row exactly once unless a key is
 *    undetermined; rows come out in byte order of their keys when the file's rows are in byte
 *    order (PerconaFT's default comparator). A file whose rows go backwards (a dictionary
 *    with an application comparator) is still merged without loss or duplicates: the overlay
 *    rows that were not met in the file are emitted at the end, and `outOfOrder` says so.
 */
import { invariant } from '../base/errors.js';
import { compareKeys } from '../engine/btree/node.js';

/** One key/value row. */
export interface ExtractRow {
  key: Uint8Array;
  value: Uint8Array;
}

/** What the log after a dictionary's checkpoint changed in it (from the forensic replay). */
export interface RowOverlay {
  /** Rows whose committed value the log determines, sorted by key bytes. */
  rows: readonly ExtractRow[];
  /** Keys the log deleted (their file rows are gone). */
  deletedKeys: readonly Uint8Array[];
  /** Keys whose fate needs the application (never printed). */
  undeterminedKeys: readonly Uint8Array[];
  /** Every file row may have been changed by a record that needs the application. */
  olderRowsUndetermined: boolean;
}

/** An overlay that changes nothing (a dictionary the log did not touch after its checkpoint). */
export const EMPTY_OVERLAY: RowOverlay = { rows: [], deletedKeys: [], undeterminedKeys: [], olderRowsUndetermined: false };

/** Where the emitted rows came from, counted while the merge runs. */
export interface MergeCounts {
  /** File rows emitted unchanged. */
  fromFile: number;
  /** Rows whose value comes from the log (new keys and file rows the log overwrote). */
  fromLog: number;
  /** File rows the log deleted. */
  deletedByLog: number;
  /** File rows withheld because their fate needs the application. */
  withheld: number;
  /** The file's rows were not in byte order (see the module comment). */
  outOfOrder: boolean;
}

/** Counts at zero. */
export function newMergeCounts(): MergeCounts {
  return { fromFile: 0, fromLog: 0, deletedByLog: 0, withheld: 0, outOfOrder: false };
}

/** Bytes as a latin1 string (one char per byte) for Map keys. */
export function keyString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/**
 * Yields the committed rows of one dictionary: `base` (the file's rows in key order) merged
 * with `overlay`; `counts` is updated as rows go by.
 */
export async function* mergeRows(base: AsyncIterable<ExtractRow>, overlay: RowOverlay, counts: MergeCounts): AsyncGenerator<ExtractRow> {
  const replaced = new Map<string, number>();
  overlay.rows.forEach((r, i) => replaced.set(keyString(r.key), i));
  const deleted = new Set(overlay.deletedKeys.map(keyString));
  const undetermined = new Set(overlay.undeterminedKeys.map(keyString));
  for (const k of deleted) invariant(!replaced.has(k) && !undetermined.has(k), 'extract overlay: a deleted key is also known or undetermined');
  for (const k of undetermined) invariant(!replaced.has(k), 'extract overlay: a key is both known and undetermined');

  const used = new Uint8Array(overlay.rows.length);
  let next = 0; // the first overlay row not yet emitted or passed
  let prev: Uint8Array | undefined;
  const skipUsed = (): void => {
    while (next < overlay.rows.length && used[next] === 1) next++;
  };
  for await (const row of base) {
    if (prev !== undefined && compareKeys(prev, row.key) >= 0) counts.outOfOrder = true;
    prev = row.key;
    // Overlay rows for new keys that sort before this file row come first.
    if (!counts.outOfOrder) {
      skipUsed();
      while (next < overlay.rows.length && compareKeys(overlay.rows[next]!.key, row.key) < 0) {
        const r = overlay.rows[next]!;
        used[next] = 1;
        counts.fromLog++;
        yield r;
        skipUsed();
      }
    }
    const k = keyString(row.key);
    const i = replaced.get(k);
    if (i !== undefined) {
      if (used[i] === 1) continue; // emitted already (only possible out of order)
      used[i] = 1;
      counts.fromLog++;
      yield overlay.rows[i]!;
    } else if (deleted.has(k)) {
      counts.deletedByLog++;
    } else if (undetermined.has(k) || overlay.olderRowsUndetermined) {
      counts.withheld++;
    } else {
      counts.fromFile++;
      yield row;
    }
  }
  for (let i = 0; i < overlay.rows.length; i++) {
    if (used[i] === 1) continue;
    used[i] = 1;
    counts.fromLog++;
    yield overlay.rows[i]!;
  }
}
