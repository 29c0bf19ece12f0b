/**
 * The byte layout of a version-29 dictionary header (spec ft-file-header.md §3), as the
 * teaching views annotate a slot's hex: each field's name, offset and size, and how to read
 * it. The order and widths follow encodeFtHeader in src/format/ft-header.ts;
 * test/teach/header-layout.test.ts decodes an encoded header with this table and compares
 * every field with the header it came from, so the two cannot drift apart.
 *
 * Invariants: fields are contiguous from offset 0 and end at FT_HEADER_SIZE_V29 (checked at load).
 */
import { invariant } from '../base/errors.js';
import { FT_HEADER_SIZE_V29 } from '../format/ft-header.js';

/** How a field's bytes are read: big-endian u32 (the framing), little-endian u32, a 64-bit value as two little-endian words high word first (PerconaFT's wbuf_ulonglong), a byte, or raw. */
export type FieldEncoding = 'ascii' | 'u32be' | 'u32' | 'u64' | 'u8' | 'raw';

/** One field of the header. */
export interface HeaderField {
  name: string;
  offset: number;
  size: number;
  enc: FieldEncoding;
}

const SPEC: Array<[string, FieldEncoding, number]> = [
  ['magic', 'ascii', 8],
  ['layout_version', 'u32be', 4],
  ['build_id', 'u32be', 4],
  ['size', 'u32be', 4],
  ['byte_order', 'raw', 8],
  ['checkpoint_count', 'u64', 8],
  ['checkpoint_lsn', 'u64', 8],
  ['nodesize', 'u32', 4],
  ['translation_location', 'u64', 8],
  ['translation_size', 'u64', 8],
  ['root_blocknum', 'u64', 8],
  ['flags', 'u32', 4],
  ['layout_version_original', 'u32', 4],
  ['build_id_original', 'u32', 4],
  ['time_of_creation', 'u64', 8],
  ['time_of_last_modification', 'u64', 8],
  ['root_xid_that_created', 'u64', 8],
  ['basementnodesize', 'u32', 4],
  ['time_of_last_verification', 'u64', 8],
  ['numrows', 'u64', 8],
  ['numbytes', 'u64', 8],
  ['time_of_last_optimize_begin', 'u64', 8],
  ['time_of_last_optimize_end', 'u64', 8],
  ['count_of_optimize_in_progress', 'u32', 4],
  ['msn_at_start_of_last_completed_optimize', 'u64', 8],
  ['compression_method', 'u8', 1],
  ['highest_unused_msn_for_upgrade', 'u64', 8],
  ['max_msn_in_ft', 'u64', 8],
  ['fanout', 'u32', 4],
  ['on_disk_logical_rows', 'u64', 8],
  ['checksum', 'u32', 4],
];

/** The fields of a version-29 header in file order. */
export const HEADER_FIELDS: readonly HeaderField[] = (() => {
  let offset = 0;
  const out: HeaderField[] = [];
  for (const [name, enc, size] of SPEC) {
    out.push({ name, offset, size, enc });
    offset += size;
  }
  invariant(offset === FT_HEADER_SIZE_V29, () => `header layout covers ${offset} bytes, not ${FT_HEADER_SIZE_V29}`);
  return out;
})();

/** The value of field f in bytes (a slot's bytes from its offset 0), as display text. */
export function readHeaderField(bytes: Uint8Array, f: HeaderField): string {
  if (f.offset + f.size > bytes.length) return '(missing)';
  const dv = new DataView(bytes.buffer, bytes.byteOffset + f.offset, f.size);
  switch (f.enc) {
    case 'ascii':
      return JSON.stringify(String.fromCharCode(...bytes.subarray(f.offset, f.offset + f.size)));
    case 'u32be':
      return String(dv.getUint32(0, false));
    case 'u32':
      return String(dv.getUint32(0, true));
    case 'u64':
      return ((BigInt(dv.getUint32(0, true)) << 32n) | BigInt(dv.getUint32(4, true))).toString();
    case 'u8':
      return String(dv.getUint8(0));
    case 'raw':
      return [...bytes.subarray(f.offset, f.offset + f.size)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  }
}
