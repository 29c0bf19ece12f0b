/**
 * Sub-block decompression for PerconaFT nodes (docs/ft-nodes.md "Sub-blocks"; PerconaFT
 * ft/serialize/compress.cc `toku_decompress`).
 *
 * A compressed sub-block starts with one method byte: its low four bits name the method (the
 * high four bits carry the compression level, which a reader ignores). The method decides how
 * the rest is read:
 *  - 0 none: the bytes that follow are the data;
 *  - 7 snappy: a raw snappy stream;
 *  - 8 zlib: the whole sub-block, method byte included, is an RFC 1950 zlib stream (its first
 *    byte is the zlib CMF byte, whose low four bits are 8 = deflate);
 *  - 9 quicklz: a QuickLZ 1.5 level-3 stream (src/ft/quicklz.ts); a lone method byte is empty data;
 *  - 10 lzma: an xz container (check type none); a lone method byte is empty data;
 *  - 11 zlib without checksum: the second byte is the signed deflate window bits (-15), the
 *    rest a raw deflate stream.
 *
 * The codecs that need a native or third-party library are registered at run time through
 * {@link registerDecompressor} (src/ft/node-codecs.ts does it for Node), so this module and
 * every decoding module import nothing from `node:*`.
 *
 * Invariants:
 *  - decompressSubBlock returns exactly `uncompressedSize` bytes or throws one TokusimError
 *    naming file, blocknum, offset, the method and expected vs actual size; a codec that throws
 *    or returns the wrong length never escapes as anything else.
 */
import { TokusimError } from '../base/errors.js';
import { decompressQuickLz } from './quicklz.js';

/** The compression methods of PerconaFT's `toku_compression_method` that can appear on disk. */
export const COMPRESSION = {
  none: 0,
  snappy: 7,
  zlib: 8,
  quicklz: 9,
  lzma: 10,
  zlibWithoutChecksum: 11,
} as const;

/** The name of a method number, for messages ("method 12 (unknown)"). */
export function compressionName(method: number): string {
  for (const [name, m] of Object.entries(COMPRESSION)) if (m === method) return name;
  return 'unknown';
}

/**
 * A decompressor: given the whole compressed sub-block (method byte included) and the size the
 * sub-block header promises, return the data. It may throw anything; the caller turns that into
 * a corrupt-input error.
 */
export type Decompressor = (compressed: Uint8Array, uncompressedSize: number) => Uint8Array;

const registry = new Map<number, Decompressor>();

/** Register (or replace) the decompressor for a method. */
export function registerDecompressor(method: number, fn: Decompressor): void {
  registry.set(method, fn);
}

/** True when a decompressor is available for the method. */
export function hasDecompressor(method: number): boolean {
  return method === COMPRESSION.none || method === COMPRESSION.quicklz || registry.has(method);
}

/** Where a sub-block sits, for errors. */
export interface SubBlockSite {
  file: string;
  blocknum: bigint;
  /** Byte offset of the sub-block's compressed data in the file. */
  offset: number;
  /** What the sub-block holds ("node info", "partition 3"). */
  what: string;
}

function builtin(method: number, compressed: Uint8Array, uncompressedSize: number): Uint8Array | undefined {
  if (method === COMPRESSION.none) return compressed.subarray(1);
  if (method === COMPRESSION.quicklz) {
    if (compressed.length === 1) return new Uint8Array(0);
    return decompressQuickLz(compressed.subarray(1), uncompressedSize);
  }
  return undefined;
}

/**
 * Decompress one sub-block. `compressed` is the stored data (method byte first);
 * `uncompressedSize` is what the sub-block header says it holds.
 */
export function decompressSubBlock(compressed: Uint8Array, uncompressedSize: number, site: SubBlockSite): Uint8Array {
  const where = { file: site.file, blocknum: site.blocknum, offset: site.offset };
  if (compressed.length < 1) {
    throw new TokusimError('bad-node', `${site.what}: empty compressed sub-block`, { ...where, expected: 'at least the method byte', actual: '0 bytes' });
  }
  const method = compressed[0]! & 0x0f;
  let out: Uint8Array | undefined;
  try {
    out = builtin(method, compressed, uncompressedSize);
    if (out === undefined) {
      const fn = registry.get(method);
      if (fn === undefined) {
        const known = compressionName(method) !== 'unknown';
        throw new TokusimError('bad-node', `${site.what}: ${known ? `no decompressor registered for ${compressionName(method)} (import src/ft/node-codecs.js)` : 'unknown compression method'}`, {
          ...where,
          expected: 'a method of 0, 7, 8, 9, 10 or 11',
          actual: `method ${method} (byte 0x${compressed[0]!.toString(16).padStart(2, '0')})`,
        });
      }
      out = fn(compressed, uncompressedSize);
    }
  } catch (err) {
    if (err instanceof TokusimError) throw err;
    throw new TokusimError('bad-node', `${site.what}: ${compressionName(method)} data does not decompress`, {
      ...where,
      expected: `a valid ${compressionName(method)} stream of ${uncompressedSize} bytes`,
      actual: err instanceof Error ? err.message.split('\n')[0]! : String(err),
    });
  }
  if (out.length !== uncompressedSize) {
    throw new TokusimError('bad-node', `${site.what}: ${compressionName(method)} data decompresses to the wrong size`, {
      ...where,
      expected: `${uncompressedSize} bytes (the sub-block header)`,
      actual: `${out.length} bytes`,
    });
  }
  return out;
}
