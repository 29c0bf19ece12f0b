/**
 * The frame of a node block on disk: [LE32 payload length][payload][LE32 x1764(payload)],
 * padded with zeros to a multiple of 512 when written (spec ft-file-header.md §6: blocks are
 * placed on 512-byte boundaries). A torn or stale block fails to unframe with an error naming
 * the file and offset, never a wrong value.
 *
 * Invariants:
 *  - frameHead(n) + payload + frameTail(n, x1764(payload), framedLength(n)) is exactly
 *    frameBlock(payload, { padTo512: true }); every writer of frames (the plain one here, the
 *    fast paths' gathered writes) builds them from these two functions.
 *  - unframeBlock(frameBlock(p)) returns p; any other bytes either unframe to the payload they
 *    frame or throw 'bad-length' / 'bad-checksum'.
 */
import { TokusimError } from '../base/errors.js';
import { x1764 } from './x1764.js';

/** The bytes a frame adds around its payload: the length before, the checksum after. */
export const FRAME_OVERHEAD = 8;

/** The length of a block framing n payload bytes, padded to a multiple of 512. */
export function framedLength(n: number): number {
  return Math.ceil((n + FRAME_OVERHEAD) / 512) * 512;
}

/** The 4 bytes before a payload of n bytes. */
export function frameHead(n: number): Uint8Array {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, n, true);
  return head;
}

/** The bytes after a payload of n bytes whose checksum is crc, up to a block of `padded` bytes. */
export function frameTail(n: number, crc: number, padded = n + FRAME_OVERHEAD): Uint8Array {
  const tail = new Uint8Array(padded - n - 4);
  new DataView(tail.buffer).setUint32(0, crc, true);
  return tail;
}

/** Frame a node payload for its disk block (padded to 512 with `padTo512`). */
export function frameBlock(payload: Uint8Array, opts: { padTo512?: boolean } = {}): Uint8Array {
  const n = payload.length;
  const len = opts.padTo512 === true ? framedLength(n) : n + FRAME_OVERHEAD;
  const out = new Uint8Array(len);
  out.set(frameHead(n), 0);
  out.set(payload, 4);
  out.set(frameTail(n, x1764(payload), len), 4 + n);
  return out;
}

/** Check and strip the frame of a block read from `file` at `offset`. */
export function unframeBlock(block: Uint8Array, where: { file: string; offset: number }): Uint8Array {
  const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const len = block.length >= 4 ? dv.getUint32(0, true) : -1;
  if (len < 0 || len + FRAME_OVERHEAD > block.length) {
    throw new TokusimError('bad-length', `node block of ${block.length} bytes cannot hold its payload`, {
      ...where,
      expected: `<= ${block.length - FRAME_OVERHEAD}`,
      actual: String(len),
    });
  }
  const payload = block.subarray(4, 4 + len);
  const stored = dv.getUint32(4 + len, true);
  const actual = x1764(payload);
  if (stored !== actual) {
    throw new TokusimError('bad-checksum', 'node block checksum mismatch', {
      ...where,
      expected: `0x${stored.toString(16).padStart(8, '0')}`,
      actual: `0x${actual.toString(16).padStart(8, '0')}`,
    });
  }
  return payload;
}
