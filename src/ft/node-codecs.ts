/**
 * The decompressors that need Node or a third-party package, registered with the registry of
 * src/ft/compression.ts when this module is imported: zlib (with and without its checksum)
 * through `node:zlib`, lzma through `@napi-rs/lzma` (PerconaFT writes an xz container with
 * check type none, see ft/serialize/compress.cc), snappy through `snappyjs` (raw snappy
 * format). This is the only module of src/ft that imports from `node:*` or a package.
 *
 * Invariants:
 *  - Importing the module twice registers the same functions (idempotent).
 *  - Each decompressor bounds its output by the size the sub-block header states, so damaged
 *    input cannot make it allocate more than that (zlib maxOutputLength, snappy maxLength).
 */
import { createRequire } from 'node:module';
import { inflateRawSync, inflateSync } from 'node:zlib';
import { COMPRESSION, registerDecompressor } from './compression.js';

const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as { uncompress(data: Uint8Array, maxLength?: number): Uint8Array };
const xz = require('@napi-rs/lzma/xz') as { decompressSync(data: Uint8Array): Uint8Array };

function asBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Register zlib, zlib-without-checksum, lzma and snappy (quicklz and none are built in). */
export function registerNodeCodecs(): void {
  registerDecompressor(COMPRESSION.zlib, (c, n) => asBytes(inflateSync(c, { maxOutputLength: Math.max(1, n) })));
  registerDecompressor(COMPRESSION.zlibWithoutChecksum, (c, n) => {
    if (c.length < 2) throw new Error('zlib-without-checksum sub-block lacks its window-bits byte');
    const windowBits = (c[1]! << 24) >> 24;
    if (windowBits >= 0) throw new Error(`window bits ${windowBits} (a raw deflate stream needs a negative value)`);
    return asBytes(inflateRawSync(c.subarray(2), { windowBits: -windowBits, maxOutputLength: Math.max(1, n) }));
  });
  registerDecompressor(COMPRESSION.lzma, (c) => (c.length === 1 ? new Uint8Array(0) : asBytes(xz.decompressSync(c.subarray(1)))));
  registerDecompressor(COMPRESSION.snappy, (c, n) => snappy.uncompress(c.subarray(1), n));
}

registerNodeCodecs();
