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
  const m = new RowMerger(overlay, counts);
  const out: ExtractRow[] = [];
  for await (const row of base) {
    m.push(row, out);
    yield* out;
    out.length = 0;
  }
  m.finish(out);
  yield* out;
}

/**
 * The same merge over batches of rows: each batch of `base` gives one batch out (possibly
 * empty, then not yielded), and the overlay's rows left at the end one more. A base row is
 * only read while its batch is being merged, so a base whose batches reuse memory (rows
 * valid until the next batch is asked for) can be merged; the rows yielded have the same
 * lifetime as the batch they came with.
 */
export async function* mergeRowBatches(base: AsyncIterable<readonly ExtractRow[]>, overlay: RowOverlay, counts: MergeCounts): AsyncGenerator<ExtractRow[]> {
  const m = new RowMerger(overlay, counts);
  for await (const batch of base) {
    const out: ExtractRow[] = [];
    for (let i = 0; i < batch.length; i++) m.push(batch[i]!, out);
    if (out.length > 0) yield out;
  }
  const out: ExtractRow[] = [];
  m.finish(out);
  if (out.length > 0) yield out;
}

/** The merge's state: which overlay rows went out, and the previous file key (copied, as file rows may not outlive their batch). */
class RowMerger {
  private readonly replaced = new Map<string, number>();
  private readonly deleted: Set<string>;
  private readonly undetermined: Set<string>;
  /** Nothing in the overlay names a file key: file rows pass without a lookup. */
  private readonly passThrough: boolean;
  private readonly used: Uint8Array;
  /** The first overlay row not yet emitted or passed. */
  private next = 0;
  private prev = new Uint8Array(64);
  private prevLength = -1;

  constructor(
    private readonly overlay: RowOverlay,
    private readonly counts: MergeCounts,
  ) {
    overlay.rows.forEach((r, i) => this.replaced.set(keyString(r.key), i));
    this.deleted = new Set(overlay.deletedKeys.map(keyString));
    this.undetermined = new Set(overlay.undeterminedKeys.map(keyString));
    for (const k of this.deleted) invariant(!this.replaced.has(k) && !this.undetermined.has(k), 'extract overlay: a deleted key is also known or undetermined');
    for (const k of this.undetermined) invariant(!this.replaced.has(k), 'extract overlay: a key is both known and undetermined');
    this.used = new Uint8Array(overlay.rows.length);
    this.passThrough = this.replaced.size === 0 && this.deleted.size === 0 && this.undetermined.size === 0;
  }

  private skipUsed(): void {
    while (this.next < this.overlay.rows.length && this.used[this.next] === 1) this.next++;
  }

  /** True when key does not sort after the previous file key; remembers key as the previous one. */
  private backwards(key: Uint8Array): boolean {
    let back = false;
    if (this.prevLength >= 0) {
      const p = this.prev;
      const n = Math.min(this.prevLength, key.length);
      let i = 0;
      while (i < n && p[i] === key[i]) i++;
      back = i < n ? p[i]! > key[i]! : this.prevLength >= key.length;
    }
    if (key.length > this.prev.length) this.prev = new Uint8Array(Math.max(key.length, this.prev.length * 2));
    this.prev.set(key);
    this.prevLength = key.length;
    return back;
  }

  /** Merges one file row (in key order) into out. */
  push(row: ExtractRow, out: ExtractRow[]): void {
    const counts = this.counts;
    const rows = this.overlay.rows;
    if (this.backwards(row.key)) counts.outOfOrder = true;
    // Overlay rows for new keys that sort before this file row come first.
    if (!counts.outOfOrder && rows.length > 0) {
      this.skipUsed();
      while (this.next < rows.length && compareKeys(rows[this.next]!.key, row.key) < 0) {
        this.used[this.next] = 1;
        counts.fromLog++;
        out.push(rows[this.next]!);
        this.skipUsed();
      }
    }
    if (this.passThrough && !this.overlay.olderRowsUndetermined) {
      counts.fromFile++;
      out.push(row);
      return;
    }
    const k = keyString(row.key);
    const i = this.replaced.get(k);
    if (i !== undefined) {
      if (this.used[i] === 1) return; // emitted already (only possible out of order)
      this.used[i] = 1;
      counts.fromLog++;
      out.push(rows[i]!);
    } else if (this.deleted.has(k)) {
      counts.deletedByLog++;
    } else if (this.undetermined.has(k) || this.overlay.olderRowsUndetermined) {
      counts.withheld++;
    } else {
      counts.fromFile++;
      out.push(row);
    }
  }

  /** The overlay rows not yet emitted, into out. */
  finish(out: ExtractRow[]): void {
    const rows = this.overlay.rows;
    for (let i = 0; i < rows.length; i++) {
      if (this.used[i] === 1) continue;
      this.used[i] = 1;
      this.counts.fromLog++;
      out.push(rows[i]!);
    }
  }
}
