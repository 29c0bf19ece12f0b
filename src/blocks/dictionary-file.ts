/**
 * A dictionary file on a Storage: the two header slots, the BTT and the descriptor block,
 * with block writes going through the BlockTable (spec ft-file-header.md §4, §6, §7).
 *
 * Invariants:
 *  - Every block pwrite is preceded by the file growth the BlockTable planned for it.
 *  - File size changes (growth, truncation) run one at a time in the order the BlockTable
 *    planned them, and a block pwrite starts only after every size change planned before its
 *    block was placed has finished. So a size change never lands on bytes of a block placed
 *    after it (the race H8 found with out-of-order I/O completion), and blocks placed before
 *    a growth lie below its start, so it cannot touch them either.
 *  - Growth extends the file with truncate-up (the new bytes read as zeros, exactly as
 *    PerconaFT's zero-fill leaves them) and never shrinks it; the resulting sizes are those
 *    of spec block-translation-table.md §6.3.
 *  - A truncation planned at the end of a checkpoint runs in the background (it is only
 *    cleanup: the durable checkpoint refers to nothing beyond its target). A write that
 *    ends at or below the target of every truncation still running, with no growth running,
 *    need not wait for them; any other write waits for every size change, as above. A failed
 *    background truncation is kept and thrown by the next endCheckpoint, settle or close.
 *  - With syncEveryBytes > 0, every time that many bytes of blocks have been written since
 *    the last sync, an fsync starts in the background (at most one at a time), so the disk
 *    flushes while the checkpoint is still writing and the final fsync has less left to do.
 *    It only ever makes data durable sooner. writeCheckpointHeader waits for it before its
 *    own fsync and throws its failure (a failed fsync must fail the checkpoint, even if a
 *    later fsync would succeed); close waits for it too.
 *  - writeHeader follows toku_serialize_ft_to: BTT pwrite, fsync, header pwrite to the slot
 *    chosen by the (already incremented) checkpoint count, fsync.
 *  - open never silently picks a damaged slot: slot validation and choice are those of
 *    ft-header.ts, and a bad BTT or descriptor in the chosen slot is an error (no fallback).
 *  - open checks every location and size it reads from the file (BTT location and size, BTT
 *    entries, descriptor) against the file's size before it allocates or reads
 *    anything with it, so damage whose checksum still holds is a corrupt-input error.
 */
import { TokusimError, invariant } from '../base/errors.js';
import { checkClaimedExtent, checkClaimedSize } from '../base/bytes.js';
import { isBugPlanted } from '../base/bug-switches.js';
import {
  HEADER_SLOT_RESERVE,
  MAX_LSN,
  chooseHeader,
  encodeFtHeaderSector,
  headerSlotForCount,
  headerSlotOffset,
  validateHeaderSlot,
  type ChosenHeader,
  type FtHeader,
  type HeaderSlotReport,
} from '../format/ft-header.js';
import {
  FIRST_BLOCK_OFFSET,
  decodeTranslationImage,
  roundUp512,
  translationSizeOnDisk,
  type TranslationImage,
} from '../format/btt-format.js';
import { decodeDescriptor, descriptorSizeOnDisk, encodeDescriptor } from '../format/descriptor.js';
import type { Storage, StorageFile } from '../storage/storage.js';
import { BlockTable, type BlockTableHooks, type FileGrowth } from './block-table.js';

/** Read up to `len` bytes at `offset` (fewer at end of file). */
async function readAt(f: StorageFile, offset: bigint, len: number): Promise<Uint8Array> {
  const buf = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = await f.pread(buf.subarray(got), Number(offset) + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Both header slots as the reader sees them (for open and for `ftdump --both-headers`). */
export async function readHeaderSlots(f: StorageFile, name: string): Promise<[HeaderSlotReport, HeaderSlotReport]> {
  // Both slots in one read: the bytes are those of one read per slot, for one call instead of two.
  const both = await readAt(f, 0n, 2 * HEADER_SLOT_RESERVE);
  const s0 = validateHeaderSlot(both.subarray(0, HEADER_SLOT_RESERVE), 0, name);
  const s1 = validateHeaderSlot(both.subarray(HEADER_SLOT_RESERVE), 1, name);
  return [s0, s1];
}

/** Header field offsets inside a slot, for errors about them. */
const TRANSLATION_LOCATION_AT = 48;
const TRANSLATION_SIZE_AT = 56;

/**
 * Read and check the BTT a header points to. Location and size are checked against the
 * file's size before anything is allocated or read (the header's checksum may hold for a
 * damaged value), so a claimed size is never trusted further than the file reaches.
 * `knownFileSize` is that size when the caller has just read it (saves asking again).
 */
export async function readTranslation(f: StorageFile, name: string, header: FtHeader, slotOffset = 0, knownFileSize?: number): Promise<TranslationImage> {
  const loc = header.translationLocation;
  const size = header.translationSize;
  const fileSize = knownFileSize ?? (await f.size());
  checkClaimedExtent(loc, 0, fileSize, { file: name, offset: slotOffset + TRANSLATION_LOCATION_AT, field: 'translation_location', lowest: Number(FIRST_BLOCK_OFFSET) });
  const unpadded = checkClaimedSize(size, Number(translationSizeOnDisk(3)), fileSize - Number(loc), { file: name, offset: slotOffset + TRANSLATION_SIZE_AT, field: 'translation_size' });
  // The write was padded to 512 bytes, but the padding need not all be there.
  const len = Math.min(Number(roundUp512(BigInt(unpadded))), fileSize - Number(loc));
  const buf = await readAt(f, loc, len);
  return decodeTranslationImage(buf, { file: name, location: loc, size, fileSize });
}

/** A dictionary file opened at a chosen header: the file, the header and slot chosen and the translation table read. */
export interface OpenedDictionary {
  file: DictionaryFile;
  chosen: ChosenHeader;
}

/** One dictionary file on a {@link Storage}: its two header slots, block translation table and blocks. */
export class DictionaryFile {
  private constructor(
    readonly storage: Storage,
    readonly path: string,
    readonly handle: StorageFile,
    /** The in-memory current header (ft->h). */
    public header: FtHeader,
    readonly blockTable: BlockTable,
    public descriptor: Uint8Array,
  ) {}

  /** A new, empty dictionary file: nothing is written until the first checkpoint. */
  static async create(storage: Storage, path: string, header: FtHeader, hooks: BlockTableHooks = {}): Promise<DictionaryFile> {
    const handle = await storage.open(path, 'create-exclusive');
    return new DictionaryFile(storage, path, handle, header, BlockTable.create(hooks, 0n), new Uint8Array(0));
  }

  /**
   * Open an existing dictionary: choose a header slot (newest valid one whose LSN is at most
   * maxAcceptableLsn), load its BTT and descriptor, rebuild the allocator.
   */
  static async open(storage: Storage, path: string, opts: { mode?: 'read' | 'readwrite'; maxAcceptableLsn?: bigint; hooks?: BlockTableHooks } = {}): Promise<OpenedDictionary> {
    const handle = await storage.open(path, opts.mode ?? 'readwrite');
    try {
      const [s0, s1] = await readHeaderSlots(handle, path);
      const chosen = chooseHeader(s0, s1, path, opts.maxAcceptableLsn ?? MAX_LSN);
      // One size for both: nothing writes the file between the two uses.
      const fileSize = await handle.size();
      const image = await readTranslation(handle, path, chosen.header, chosen.offset, fileSize);
      const bt = BlockTable.fromCheckpointed(image, BigInt(fileSize), opts.hooks ?? {});
      const d = bt.getDescriptorOffsetSize();
      let descriptor: Uint8Array = new Uint8Array(0);
      if (d.size > 0n) {
        const buf = await readAt(handle, d.diskoff, Number(d.size));
        descriptor = decodeDescriptor(buf, { file: path, offset: d.diskoff, size: d.size });
      }
      const header = { ...chosen.header, layoutVersion: 29 };
      return { file: new DictionaryFile(storage, path, handle, header, bt, descriptor), chosen };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** The last size change still running (null when none is), for ordering block writes. */
  private sizeOpTail: Promise<void> | null = null;
  /** Growths queued and not yet settled. */
  private growthsRunning = 0;
  /** Targets of the background truncations queued and not yet settled. */
  private readonly shrinksRunning = new Set<{ target: number }>();
  /** The first failure of a background truncation, until it is reported. */
  private shrinkFailure: unknown = undefined;

  /** Start a background fsync after this many bytes of block writes (0: never). */
  syncEveryBytes = 0;
  private bytesSinceSync = 0;
  private backgroundSync: Promise<void> | null = null;
  private syncFailure: unknown = undefined;
  /** Background fsyncs started (for tests and benchmarks). */
  backgroundSyncs = 0;

  /** Count written bytes and start a background fsync when syncEveryBytes have accumulated. */
  private noteBytesWritten(n: number): void {
    if (this.syncEveryBytes <= 0) return;
    this.bytesSinceSync += n;
    if (this.bytesSinceSync < this.syncEveryBytes || this.backgroundSync !== null) return;
    this.bytesSinceSync = 0;
    this.backgroundSyncs++;
    this.backgroundSync = this.handle.fsync().then(
      () => {
        this.backgroundSync = null;
      },
      (err: unknown) => {
        this.backgroundSync = null;
        this.syncFailure ??= err;
      },
    );
  }

  /** Wait for a background fsync still running, and throw (once) the failure of one. */
  private async drainBackgroundSync(): Promise<void> {
    if (this.backgroundSync !== null) await this.backgroundSync;
    if (this.syncFailure !== undefined) {
      const err = this.syncFailure;
      this.syncFailure = undefined;
      throw err;
    }
  }

  /** True when a write ending at `end` must wait for the size changes still running. */
  private mustWaitForSizeOps(end: number): boolean {
    if (this.sizeOpTail === null) return false;
    if (this.growthsRunning > 0) return true;
    for (const s of this.shrinksRunning) if (end > s.target) return true;
    return false;
  }

  /** Throw (once) the failure of a background truncation, if one failed. */
  private reportShrinkFailure(): void {
    if (this.shrinkFailure === undefined) return;
    const err = this.shrinkFailure;
    this.shrinkFailure = undefined;
    throw err;
  }

  /** Wait for every size change still running (a background truncation included). */
  async settle(): Promise<void> {
    if (this.sizeOpTail !== null) await this.sizeOpTail;
    this.reportShrinkFailure();
  }

  /**
   * Queue a size change behind the ones already issued. Returns its own promise (which
   * rejects if it fails); the queue itself carries on after a failure, since a later pwrite
   * extends the file anyway.
   */
  private queueSizeOp(op: () => Promise<void>): Promise<void> {
    const prev = this.sizeOpTail;
    const mine = prev === null ? op() : prev.then(op);
    const tail: Promise<void> = mine.then(
      () => undefined,
      () => undefined,
    );
    this.sizeOpTail = tail;
    void tail.then(() => {
      if (this.sizeOpTail === tail) this.sizeOpTail = null;
    });
    return mine;
  }

  /**
   * Wait until the file is large enough for a write just placed by the BlockTable: issue
   * its growth (if any) and wait for it and every earlier size change. With no size change
   * outstanding this does not wait at all.
   */
  private async grow(g: FileGrowth | null, end: number): Promise<void> {
    if (g !== null) {
      const target = Number(g.newSize);
      this.growthsRunning++;
      try {
        await this.queueSizeOp(async () => {
          // Only ever extend: a pwrite (the header's, or one into a gap) may already have
          // carried the file past the target. A write still in flight here was placed before
          // this growth, so it ends below the target and the truncate cannot cut it.
          if ((await this.handle.size()) < target) await this.handle.truncate(target);
        });
      } finally {
        this.growthsRunning--;
      }
    } else if (this.mustWaitForSizeOps(end)) {
      await this.sizeOpTail;
    }
  }

  /**
   * Write a node or rollback block for blocknum b (realloc_on_disk + pwrite). The data is
   * zero-padded to a multiple of 512, which is the size recorded in the BTT.
   */
  async writeBlock(b: bigint, data: Uint8Array, forCheckpoint: boolean): Promise<bigint> {
    const padded = Number(roundUp512(BigInt(data.length)));
    const { offset, growth } = this.blockTable.reallocOnDisk(b, BigInt(padded), forCheckpoint);
    if (padded === 0) return offset;
    await this.grow(growth, Number(offset) + padded);
    let buf = data;
    if (data.length !== padded) {
      buf = new Uint8Array(padded);
      buf.set(data);
    }
    await this.handle.pwrite(buf, Number(offset));
    this.noteBytesWritten(padded);
    return offset;
  }

  /** Read the current version of blocknum b (exactly its recorded size). */
  async readBlock(b: bigint): Promise<Uint8Array> {
    const { diskoff, size } = this.blockTable.translate(b);
    invariant(size > 0n, () => `blocknum ${b} has a block on disk`);
    return readAt(this.handle, diskoff, Number(size));
  }

  /**
   * Read blocknum b where b itself came from the file (a header's root, a node's child
   * pointer): a blocknum the translation has no block for is damage in the file, reported
   * as corrupt input naming the file, not an invariant failure.
   */
  async readBlockNamedByDisk(b: bigint): Promise<Uint8Array> {
    const n = this.blockTable.smallestNeverUsed;
    const e = b >= 3n && b < n ? this.blockTable.translate(b) : undefined;
    if (e === undefined || e.size <= 0n) {
      throw new TokusimError('bad-btt', `blocknum ${b} named by the file has no block on disk`, {
        file: this.path,
        expected: `an on-disk blocknum in [3, ${n})`,
        actual: e === undefined ? `blocknum ${b}` : `blocknum ${b} with size ${e.size}`,
      });
    }
    return this.readBlock(b);
  }

  /** Set the descriptor (blocknum 2): realloc_descriptor_on_disk, then write it. */
  async setDescriptor(data: Uint8Array): Promise<void> {
    const bytes = encodeDescriptor(data);
    const { offset, growth } = this.blockTable.reallocDescriptorOnDisk(BigInt(descriptorSizeOnDisk(data.length)));
    const padded = new Uint8Array(Number(roundUp512(BigInt(bytes.length))));
    padded.set(bytes);
    await this.grow(growth, Number(offset) + padded.length);
    await this.handle.pwrite(padded, Number(offset));
    this.descriptor = data.slice();
  }

  /**
   * toku_serialize_ft_to for the checkpoint header `ch` (its count already incremented):
   * serialize and write the BTT, fsync, write the header sector to its slot, fsync.
   * Returns the slot written.
   */
  async writeCheckpointHeader(ch: FtHeader): Promise<0 | 1> {
    invariant(ch.checkpointCount > 0n, 'a written header has checkpoint count >= 1');
    const t = this.blockTable.serializeTranslation();
    const header: FtHeader = { ...ch, translationLocation: t.address, translationSize: t.size };
    const slot = headerSlotForCount(header.checkpointCount);
    if (isBugPlanted('header-before-btt-durable')) {
      await this.handle.pwrite(encodeFtHeaderSector(header), headerSlotOffset(slot));
      await this.grow(t.growth, Number(t.address) + t.bytes.length);
      await this.handle.pwrite(t.bytes, Number(t.address));
      await this.handle.fsync();
      return slot;
    }
    await this.grow(t.growth, Number(t.address) + t.bytes.length);
    await this.handle.pwrite(t.bytes, Number(t.address));
    await this.drainBackgroundSync();
    this.bytesSinceSync = 0;
    await this.handle.fsync();
    await this.handle.pwrite(encodeFtHeaderSector(header), headerSlotOffset(slot));
    await this.handle.fsync();
    return slot;
  }

  /**
   * note_end_checkpoint plus the optional truncate, which is started here and runs in the
   * background (settle() waits for it). Then reports a failed earlier truncation, if any.
   */
  async endCheckpoint(): Promise<void> {
    const { truncateTo } = this.blockTable.noteEndCheckpoint();
    if (truncateTo !== null) {
      const size = Number(truncateTo);
      const entry = { target: size };
      this.shrinksRunning.add(entry);
      this.queueSizeOp(() => this.handle.truncate(size)).then(
        () => this.shrinksRunning.delete(entry),
        (err: unknown) => {
          this.shrinksRunning.delete(entry);
          this.shrinkFailure ??= err;
        },
      );
    }
    this.reportShrinkFailure();
  }

  /** Close the file after every size change still running; reports a failed truncation. */
  async close(): Promise<void> {
    if (this.sizeOpTail !== null) await this.sizeOpTail;
    if (this.backgroundSync !== null) await this.backgroundSync;
    await this.handle.close();
    this.reportShrinkFailure();
  }
}
