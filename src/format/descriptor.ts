/**
 * The dictionary descriptor block (blocknum 2; spec ft-file-header.md §8): LE32 length,
 * the descriptor bytes, LE32 x1764 of the 4+len bytes before it. Size in the BTT is 4+len+4;
 * the write is zero-padded to 512.
 *
 * Invariants:
 *  - decode(encode(d)) === d; a block whose length field disagrees with its recorded size or
 *    whose checksum fails is a TokusimError('bad-checksum' / 'bad-length') naming the offset.
 */
import { ByteWriter, readU32At } from '../base/bytes.js';
import { TokusimError } from '../base/errors.js';
import { x1764 } from './x1764.js';

/** Size in bytes of a serialized descriptor whose data is len bytes long (length, data, checksum). */
export function descriptorSizeOnDisk(len: number): number {
  return 4 + len + 4;
}

/** Serializes a dictionary descriptor: its length, its bytes and an x1764 checksum. */
export function encodeDescriptor(data: Uint8Array): Uint8Array {
  const w = new ByteWriter(descriptorSizeOnDisk(data.length));
  w.u32(data.length);
  w.bytes(data);
  const body = w.bytesView();
  w.u32(x1764(body, 0, body.length));
  return w.toBytes();
}

/** Parse a descriptor block of recorded size `size` read at `offset`. */
export function decodeDescriptor(buf: Uint8Array, where: { file: string; offset: bigint; size: bigint }): Uint8Array {
  const size = Number(where.size);
  const offset = Number(where.offset);
  if (size < 8 || buf.length < size) {
    throw new TokusimError('bad-length', 'descriptor block too short', { file: where.file, offset, expected: `>= 8 and <= ${buf.length} bytes`, actual: `${size} bytes` });
  }
  const stored = readU32At(buf, size - 4);
  const computed = x1764(buf, 0, size - 4);
  if (stored !== computed) {
    throw new TokusimError('bad-checksum', 'descriptor checksum mismatch', {
      file: where.file,
      offset,
      expected: `0x${stored.toString(16).padStart(8, '0')}`,
      actual: `0x${computed.toString(16).padStart(8, '0')}`,
    });
  }
  const len = readU32At(buf, 0);
  if (len + 8 !== size) {
    throw new TokusimError('bad-length', 'descriptor length does not match its block size', { file: where.file, offset, expected: `${size - 8}`, actual: `${len}` });
  }
  return buf.slice(4, 4 + len);
}
