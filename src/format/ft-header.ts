/**
 * The dictionary (FT) file header, layout version 29, and the rules that pick one of the two
 * header slots (spec ft-file-header.md §3, §6, §7).
 *
 * Invariants:
 *  - An encoded header is exactly FT_HEADER_SIZE_V29 (197) bytes; its size field (BE32 @16)
 *    says 197 and its last 4 bytes are x1764 of the 193 before them. The written sector is
 *    that plus zero padding up to 512.
 *  - decode(encode(h)) reproduces every serialized field; encode(decode(bytes)) gives the
 *    same bytes.
 *  - A header with checkpoint count c belongs in slot (c odd ? 0 : 1), i.e. offset 0 or 4096.
 *  - Slot validation never throws for bad bytes: it returns a status with PerconaFT's code
 *    and a TokusimError describing the problem. Choosing a slot throws a HeaderError (kind
 *    'bad-header') when no slot is usable, never picks a damaged slot silently.
 */
import { ByteReader, ByteWriter, readU32At } from '../base/bytes.js';
import { TokusimError, invariant } from '../base/errors.js';
import { x1764 } from './x1764.js';
import { isBugPlanted } from '../base/bug-switches.js';

/** The dictionary file layout version tokusim writes (29). */
export const FT_LAYOUT_VERSION = 29;
/** The oldest dictionary layout version a header may have and still be read. */
export const FT_LAYOUT_MIN_SUPPORTED_VERSION = 13;
/** Size in bytes of a serialized version-29 dictionary header, checksum included. */
export const FT_HEADER_SIZE_V29 = 197;
/** Room reserved for one header slot; slot 1 starts here. */
export const HEADER_SLOT_RESERVE = 4096;
/** A header is written as one 512-byte sector. */
export const HEADER_WRITE_SIZE = 512;
/** The 8 ASCII bytes every dictionary header starts with. */
export const HEADER_MAGIC = 'tokudata';
/** toku_byte_order_host (0x0102030405060708) as a little-endian host stores it. */
export const BYTE_ORDER_MARKER = new Uint8Array([8, 7, 6, 5, 4, 3, 2, 1]);
/** MIN_MSN - 1, the highest_unused_msn_for_upgrade of every tree created at version >= 19. */
export const HIGHEST_UNUSED_MSN_FOR_NEW_TREES = (1n << 62n) - 1n;
/** The largest LSN (2^64 - 1): choosing a header with this limit accepts any checkpoint LSN. */
export const MAX_LSN = (1n << 64n) - 1n;

/** PerconaFT's error codes for header problems (buildheader/make_tdb.cc) and EINVAL. */
export const TOKUDB_DICTIONARY_TOO_OLD = -100004;
/** PerconaFT's error code for a header whose layout version is newer than supported. */
export const TOKUDB_DICTIONARY_TOO_NEW = -100005;
/** PerconaFT's error code for a header slot that holds no header. */
export const TOKUDB_DICTIONARY_NO_HEADER = -100006;
/** PerconaFT's error code for a header whose checksum does not match. */
export const TOKUDB_BAD_CHECKSUM = -100015;
/** The errno value PerconaFT reports for a header it rejects as invalid. */
export const EINVAL = 22;

/** Minimum header size per layout version (serialize_ft_min_size). */
export function ftHeaderMinSize(version: number): number {
  if (version <= 12) return 88;
  if (version === 13) return 112;
  if (version === 14) return 120;
  if (version <= 16) return 140;
  if (version === 17) return 156;
  if (version === 18) return 168;
  if (version <= 20) return 177;
  if (version <= 27) return 185;
  if (version === 28) return 189;
  return 197;
}

/** Every field a version-29 header serializes, in file order. 64-bit values are bigint. */
export interface FtHeader {
  /** BE32 @8. Always 29 when tokusim writes. */
  layoutVersion: number;
  /** BE32 @12: BUILD_ID of the writer. */
  buildId: number;
  checkpointCount: bigint;
  checkpointLsn: bigint;
  nodesize: number;
  /** Where the serialized BTT lives (4096-aligned, >= 8192). */
  translationLocation: bigint;
  /** The unpadded BTT length 8+8+16N+4. */
  translationSize: bigint;
  rootBlocknum: bigint;
  flags: number;
  layoutVersionOriginal: number;
  buildIdOriginal: number;
  timeOfCreation: bigint;
  timeOfLastModification: bigint;
  rootXidThatCreated: bigint;
  basementnodesize: number;
  timeOfLastVerification: bigint;
  numrows: bigint;
  numbytes: bigint;
  timeOfLastOptimizeBegin: bigint;
  timeOfLastOptimizeEnd: bigint;
  countOfOptimizeInProgress: number;
  msnAtStartOfLastCompletedOptimize: bigint;
  compressionMethod: number;
  highestUnusedMsnForUpgrade: bigint;
  maxMsnInFt: bigint;
  fanout: number;
  onDiskLogicalRows: bigint;
}

/** Default node size in bytes written into a new dictionary's header (4 MiB). */
export const FT_DEFAULT_NODE_SIZE = 4 * 1024 * 1024;
/** Default basement node size in bytes written into a new dictionary's header (128 KiB). */
export const FT_DEFAULT_BASEMENT_NODE_SIZE = 128 * 1024;
/** Default fanout written into a new dictionary's header. */
export const FT_DEFAULT_FANOUT = 16;
/** Default compression method code written into a new dictionary's header. */
export const TOKU_DEFAULT_COMPRESSION_METHOD = 1;

/** The header ft_header_create makes for a new dictionary (count 0, nothing on disk yet). */
export function newFtHeader(opts: {
  now: bigint;
  rootXidThatCreated?: bigint;
  nodesize?: number;
  basementnodesize?: number;
  fanout?: number;
  flags?: number;
  compressionMethod?: number;
  buildId?: number;
}): FtHeader {
  return {
    layoutVersion: FT_LAYOUT_VERSION,
    buildId: opts.buildId ?? 0,
    checkpointCount: 0n,
    checkpointLsn: 0n,
    nodesize: opts.nodesize ?? FT_DEFAULT_NODE_SIZE,
    translationLocation: -2n,
    translationSize: 0n,
    rootBlocknum: 3n,
    flags: opts.flags ?? 0,
    layoutVersionOriginal: FT_LAYOUT_VERSION,
    buildIdOriginal: opts.buildId ?? 0,
    timeOfCreation: opts.now,
    timeOfLastModification: opts.now,
    rootXidThatCreated: opts.rootXidThatCreated ?? 0n,
    basementnodesize: opts.basementnodesize ?? FT_DEFAULT_BASEMENT_NODE_SIZE,
    timeOfLastVerification: 0n,
    numrows: 0n,
    numbytes: 0n,
    timeOfLastOptimizeBegin: 0n,
    timeOfLastOptimizeEnd: 0n,
    countOfOptimizeInProgress: 0,
    msnAtStartOfLastCompletedOptimize: 0n,
    compressionMethod: opts.compressionMethod ?? TOKU_DEFAULT_COMPRESSION_METHOD,
    highestUnusedMsnForUpgrade: HIGHEST_UNUSED_MSN_FOR_NEW_TREES,
    maxMsnInFt: 0n,
    fanout: opts.fanout ?? FT_DEFAULT_FANOUT,
    onDiskLogicalRows: 0n,
  };
}

/** The slot (0 or 1) a header with this checkpoint count is written to. */
export function headerSlotForCount(count: bigint): 0 | 1 {
  return (count & 1n) === 1n ? 0 : 1;
}

/** Byte offset of a dictionary header slot in its file (slot 0 at 0, slot 1 at 4096). */
export function headerSlotOffset(slot: 0 | 1): number {
  return slot === 0 ? 0 : HEADER_SLOT_RESERVE;
}

/** Encode the 197 header bytes (no padding). */
export function encodeFtHeader(h: FtHeader): Uint8Array {
  const w = new ByteWriter(FT_HEADER_SIZE_V29);
  w.bytes(new TextEncoder().encode(HEADER_MAGIC));
  w.u32be(h.layoutVersion);
  w.u32be(h.buildId);
  w.u32be(FT_HEADER_SIZE_V29);
  w.bytes(BYTE_ORDER_MARKER);
  w.u64(h.checkpointCount);
  w.u64(h.checkpointLsn);
  w.u32(h.nodesize);
  w.u64(h.translationLocation);
  w.u64(h.translationSize);
  w.u64(h.rootBlocknum);
  w.u32(h.flags);
  w.u32(h.layoutVersionOriginal);
  w.u32(h.buildIdOriginal);
  w.u64(h.timeOfCreation);
  w.u64(h.timeOfLastModification);
  w.u64(h.rootXidThatCreated);
  w.u32(h.basementnodesize);
  w.u64(h.timeOfLastVerification);
  w.u64(h.numrows);
  w.u64(h.numbytes);
  w.u64(h.timeOfLastOptimizeBegin);
  w.u64(h.timeOfLastOptimizeEnd);
  w.u32(h.countOfOptimizeInProgress);
  w.u64(h.msnAtStartOfLastCompletedOptimize);
  w.u8(h.compressionMethod);
  w.u64(h.highestUnusedMsnForUpgrade);
  w.u64(h.maxMsnInFt);
  w.u32(h.fanout);
  w.u64(h.onDiskLogicalRows);
  const body = w.bytesView();
  w.u32(x1764(body, 0, body.length));
  const out = w.toBytes();
  invariant(out.length === FT_HEADER_SIZE_V29, () => `encoded header is ${out.length} bytes, not 197`);
  return out;
}

/** The 512-byte sector that is pwritten at the slot offset: header plus zero padding. */
export function encodeFtHeaderSector(h: FtHeader): Uint8Array {
  const sector = new Uint8Array(HEADER_WRITE_SIZE);
  sector.set(encodeFtHeader(h));
  return sector;
}

/**
 * Parse the fields of a version-29 header whose framing (magic, version, size, checksum,
 * byte order) was already validated. `bytes` starts at the slot offset.
 */
export function decodeFtHeaderFields(bytes: Uint8Array, where: { file: string; offset: number }): FtHeader {
  const r = new ByteReader(bytes, 8, bytes.length, where.file, where.offset);
  const layoutVersion = r.u32be('layout_version');
  const buildId = r.u32be('build_id');
  const size = r.u32be('size');
  r.bytes(8, 'byte order');
  const h: FtHeader = {
    layoutVersion,
    buildId,
    checkpointCount: r.i64('checkpoint_count'),
    checkpointLsn: r.u64('checkpoint_lsn'),
    nodesize: r.u32('nodesize'),
    translationLocation: r.i64('translation location'),
    translationSize: r.i64('translation size'),
    rootBlocknum: r.i64('root_blocknum'),
    flags: r.u32('flags'),
    layoutVersionOriginal: r.u32('layout_version_original'),
    buildIdOriginal: r.u32('build_id_original'),
    timeOfCreation: r.u64('time_of_creation'),
    timeOfLastModification: r.u64('time_of_last_modification'),
    rootXidThatCreated: r.u64('root_xid_that_created'),
    basementnodesize: r.u32('basementnodesize'),
    timeOfLastVerification: r.u64('time_of_last_verification'),
    numrows: r.i64('numrows'),
    numbytes: r.i64('numbytes'),
    timeOfLastOptimizeBegin: r.u64('time_of_last_optimize_begin'),
    timeOfLastOptimizeEnd: r.u64('time_of_last_optimize_end'),
    countOfOptimizeInProgress: r.u32('count_of_optimize_in_progress'),
    msnAtStartOfLastCompletedOptimize: r.u64('msn_at_start_of_last_completed_optimize'),
    compressionMethod: r.u8('compression_method'),
    highestUnusedMsnForUpgrade: r.u64('highest_unused_msn_for_upgrade'),
    maxMsnInFt: r.u64('max_msn_in_ft'),
    fanout: r.u32('fanout'),
    onDiskLogicalRows: r.i64('on_disk_logical_rows'),
  };
  r.u32('checksum');
  if (r.pos !== size) {
    throw new HeaderError('Header size did not match contents', EINVAL, {
      file: where.file,
      offset: where.offset,
      expected: `${r.pos} bytes`,
      actual: `${size} bytes`,
    });
  }
  return h;
}


/** A header problem, with PerconaFT's error code for it. */
export class HeaderError extends TokusimError {
  /** A header error with message, PerconaFT's error code for it and where it was found. */
  constructor(
    message: string,
    readonly perconaCode: number,
    where: { file?: string; offset?: number; expected?: string; actual?: string },
  ) {
    super('bad-header', message, where);
    this.name = 'HeaderError';
  }
}

/** The verdict on one dictionary header slot: valid, or why it cannot be used. */
export type HeaderSlotStatus = 'ok' | 'no-header' | 'bad-checksum' | 'too-old' | 'too-new' | 'einval';

const CODE_OF: Record<HeaderSlotStatus, number> = {
  ok: 0,
  'no-header': TOKUDB_DICTIONARY_NO_HEADER,
  'bad-checksum': TOKUDB_BAD_CHECKSUM,
  'too-old': TOKUDB_DICTIONARY_TOO_OLD,
  'too-new': TOKUDB_DICTIONARY_TOO_NEW,
  einval: EINVAL,
};

/** What validating one header slot found: its status and error code, the stored and computed checksums and, when valid, the header. */
export interface HeaderSlotReport {
  slot: 0 | 1;
  offset: number;
  status: HeaderSlotStatus;
  /** PerconaFT's code for the status (0 when ok). */
  code: number;
  /** Present when status is 'ok'. */
  header?: FtHeader;
  /** The 197 (or `size`) raw header bytes when framing could be read. */
  raw?: Uint8Array;
  /** Present when status is not 'ok'. */
  error?: HeaderError;
  /** Stored and computed checksums when the checksum could be checked. */
  storedChecksum?: number;
  computedChecksum?: number;
}

/**
 * Validate one header slot the way deserialize_ft_from_fd_into_rbuf does (§7.1), then parse
 * it fully when it is sound. `bytes` is what a pread of up to 4096 bytes at the slot offset
 * returned (shorter near the end of the file).
 */
export function validateHeaderSlot(bytes: Uint8Array, slot: 0 | 1, file: string): HeaderSlotReport {
  const offset = headerSlotOffset(slot);
  const fail = (status: HeaderSlotStatus, message: string, extra: Partial<HeaderSlotReport> = {}, ev: { expected?: string; actual?: string } = {}): HeaderSlotReport => {
    const report: HeaderSlotReport = { slot, offset, status, code: CODE_OF[status], ...extra };
    // Built on first use: an empty or stale slot is common when opening (the other slot is
    // used) and most reports are never looked at, while building an error costs a stack trace.
    let error: HeaderError | undefined;
    Object.defineProperty(report, 'error', {
      enumerable: true,
      configurable: true,
      get: () => (error ??= new HeaderError(`header slot ${slot}: ${message}`, CODE_OF[status], { file, offset, ...ev })),
    });
    return report;
  };
  if (bytes.length === 0) return fail('no-header', 'no bytes at the slot (file too short)');
  if (bytes.length < HEADER_WRITE_SIZE) {
    return fail('einval', 'short read of the header sector', {}, { expected: `${HEADER_WRITE_SIZE} bytes`, actual: `${bytes.length} bytes` });
  }
  const magic = new TextDecoder('latin1').decode(bytes.subarray(0, 8));
  if (magic !== HEADER_MAGIC) {
    if (bytes.subarray(0, 8).every((b) => b === 0)) return fail('no-header', 'slot is empty (magic is all zeros)');
    return fail('einval', 'bad magic, not a PerconaFT dictionary', {}, { expected: `"${HEADER_MAGIC}"`, actual: hexBytes(bytes.subarray(0, 8)) });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, false);
  if ((version < FT_LAYOUT_MIN_SUPPORTED_VERSION || version > FT_LAYOUT_VERSION) && !framedChecksumHolds(bytes)) {
    // Deliberate difference from PerconaFT, which reports TOO_OLD / TOO_NEW (and refuses the
    // whole file) from the version field alone: a version out of range whose header does not
    // checksum is a damaged slot (a flipped bit or a torn write), so the other slot is used.
    return fail('bad-checksum', 'layout version out of range and the header checksum does not verify', {}, { expected: `version ${FT_LAYOUT_MIN_SUPPORTED_VERSION}..${FT_LAYOUT_VERSION}`, actual: String(version) });
  }
  if (version < FT_LAYOUT_MIN_SUPPORTED_VERSION) {
    return fail('too-old', 'layout version too old', {}, { expected: `>= ${FT_LAYOUT_MIN_SUPPORTED_VERSION}`, actual: String(version) });
  }
  if (version > FT_LAYOUT_VERSION) {
    return fail('too-new', 'layout version too new', {}, { expected: `<= ${FT_LAYOUT_VERSION}`, actual: String(version) });
  }
  const size = view.getUint32(16, false);
  if (size > HEADER_SLOT_RESERVE || size < ftHeaderMinSize(version)) {
    return fail('no-header', 'header size field out of range', {}, { expected: `${ftHeaderMinSize(version)}..${HEADER_SLOT_RESERVE}`, actual: String(size) });
  }
  const readLen = Math.ceil(size / 512) * 512;
  if (bytes.length < readLen) {
    return fail('einval', 'short read of the header', {}, { expected: `${readLen} bytes`, actual: `${bytes.length} bytes` });
  }
  const stored = readU32At(bytes, size - 4);
  const computed = x1764(bytes, 0, size - 4);
  const raw = bytes.slice(0, size);
  if (stored !== computed) {
    return fail('bad-checksum', 'header checksum mismatch', { raw, storedChecksum: stored, computedChecksum: computed }, { expected: hex32(stored), actual: hex32(computed) });
  }
  for (let i = 0; i < 8; i++) {
    if (bytes[20 + i] !== BYTE_ORDER_MARKER[i]) return fail('no-header', 'byte-order marker does not match this host', { raw });
  }
  if (version !== FT_LAYOUT_VERSION) {
    return fail('einval', 'tokusim reads only layout version 29 headers', { raw }, { expected: '29', actual: String(version) });
  }
  let header: FtHeader;
  try {
    header = decodeFtHeaderFields(raw, { file, offset });
  } catch (err) {
    if (err instanceof HeaderError) return { slot, offset, status: 'einval', code: EINVAL, error: err, raw };
    if (err instanceof TokusimError) {
      return fail('einval', err.message, { raw });
    }
    throw err;
  }
  return { slot, offset, status: 'ok', code: 0, header, raw, storedChecksum: stored, computedChecksum: computed };
}

/** Whether the size field is plausible and the checksum it points to verifies. */
function framedChecksumHolds(bytes: Uint8Array): boolean {
  const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(16, false);
  if (size < 24 || size > HEADER_SLOT_RESERVE || size > bytes.length) return false;
  return readU32At(bytes, size - 4) === x1764(bytes, 0, size - 4);
}

/** @internal Formats a u32 as 0x followed by 8 hex digits, for messages. */
export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** The header chosen from the two slots of a dictionary file, with the slot it came from. */
export interface ChosenHeader {
  header: FtHeader;
  slot: 0 | 1;
  offset: number;
  /** Reports for both slots, index = slot. */
  slots: [HeaderSlotReport, HeaderSlotReport];
  /** Set when the other slot failed its checksum and this one was used instead. */
  note?: string;
}

/**
 * Choose the header to use (§7.2): the valid slot with the larger checkpoint count among
 * those whose checkpoint LSN is at most maxAcceptableLsn.
 */
export function chooseHeader(s0: HeaderSlotReport, s1: HeaderSlotReport, file: string, maxAcceptableLsn: bigint = MAX_LSN): ChosenHeader {
  const slots: [HeaderSlotReport, HeaderSlotReport] = [s0, s1];
  const acceptable = slots.map((s) => s.status === 'ok' && s.header!.checkpointLsn <= maxAcceptableLsn);
  const anyStatus = (st: HeaderSlotStatus) => s0.status === st || s1.status === st;
  const describeSlot = (s: HeaderSlotReport) => {
    if (s.status === 'ok') return `slot ${s.slot} (offset ${s.offset}): ok, count ${s.header!.checkpointCount}, lsn ${s.header!.checkpointLsn} (beyond the acceptable lsn ${maxAcceptableLsn})`;
    return `slot ${s.slot} (offset ${s.offset}): ${s.error!.message.replace(/^[^:]*: header slot \d: /, '')}`;
  };
  if (anyStatus('too-new') || (!acceptable[0] && !acceptable[1])) {
    let code: number;
    if (anyStatus('too-new')) code = TOKUDB_DICTIONARY_TOO_NEW;
    else if (anyStatus('too-old')) code = TOKUDB_DICTIONARY_TOO_OLD;
    else if (s0.status === 'bad-checksum' && s1.status === 'bad-checksum') code = TOKUDB_BAD_CHECKSUM;
    else if (anyStatus('no-header')) code = TOKUDB_DICTIONARY_NO_HEADER;
    else code = s0.code !== 0 ? s0.code : s1.code !== 0 ? s1.code : EINVAL;
    const first = s0.status !== 'ok' ? s0 : s1;
    const label =
      code === TOKUDB_BAD_CHECKSUM
        ? 'both header checksums failed'
        : code === TOKUDB_DICTIONARY_NO_HEADER
          ? 'no usable header'
          : code === TOKUDB_DICTIONARY_TOO_NEW
            ? 'dictionary too new'
            : code === TOKUDB_DICTIONARY_TOO_OLD
              ? 'dictionary too old'
              : 'no valid header';
    throw new HeaderError(`${label} (error ${code}): ${describeSlot(s0)}; ${describeSlot(s1)}`, code, {
      file,
      offset: first.offset,
      ...(first.storedChecksum !== undefined ? { expected: hex32(first.storedChecksum), actual: hex32(first.computedChecksum!) } : {}),
    });
  }
  if (acceptable[0] && acceptable[1]) {
    const h0 = s0.header!;
    const h1 = s1.header!;
    let newer: 0 | 1 = h0.checkpointCount > h1.checkpointCount ? 0 : 1;
    if (isBugPlanted('header-slot-by-offset')) newer = 0;
    const diff = h0.checkpointCount - h1.checkpointCount;
    if (diff !== 1n && diff !== -1n) {
      throw new HeaderError('both header slots are valid but their checkpoint counts do not differ by exactly 1', EINVAL, {
        file,
        offset: 0,
        expected: 'counts differing by 1',
        actual: `${h0.checkpointCount} and ${h1.checkpointCount}`,
      });
    }
    const chosen = slots[newer]!;
    return { header: chosen.header!, slot: chosen.slot, offset: chosen.offset, slots };
  }
  const idx = acceptable[0] ? 0 : 1;
  const chosen = slots[idx]!;
  const other = slots[1 - idx]!;
  const result: ChosenHeader = { header: chosen.header!, slot: chosen.slot, offset: chosen.offset, slots };
  if (other.status === 'bad-checksum') {
    result.note = `Header ${other.slot} checksum failed, but header ${chosen.slot} ok. Proceeding.`;
  }
  return result;
}

/** Bytes as lowercase hex pairs separated by spaces (for error messages about binary data). */
function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
