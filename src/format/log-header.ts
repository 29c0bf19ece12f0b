/**
 * The 12-byte tokulog file header (spec tokulog-format.md §3): the ASCII magic `tokulogg`
 * followed by the log version as a BIG-endian u32 (the only big-endian integer in a log).
 *
 * Invariants:
 *  - encodeLogFileHeader(v) is exactly LOG_FILE_HEADER_SIZE bytes and decodes back to v.
 *  - decodeLogFileHeader never reads past the buffer: a short buffer is a 'truncated' error,
 *    a wrong magic is 'bad-magic', a version outside the supported range is 'bad-version'.
 */
import { TokusimError, invariant } from '../base/errors.js';

/** Size in bytes of a log file's header: the 8-byte magic and the 4-byte version. */
export const LOG_FILE_HEADER_SIZE = 12;
/** The 8 ASCII bytes every log file starts with. */
export const LOG_MAGIC = 'tokulogg';
/** TOKU_LOG_VERSION: the version this code writes. */
export const TOKU_LOG_VERSION = 29;
/** TOKU_LOG_MIN_SUPPORTED_VERSION: the log cursor rejects anything older. */
export const TOKU_LOG_MIN_SUPPORTED_VERSION = 13;

const MAGIC_BYTES = Uint8Array.from(LOG_MAGIC, (c) => c.charCodeAt(0));

/** The 12 header bytes of a log file (magic then big-endian version); throws when the version is not a u32. */
export function encodeLogFileHeader(version = TOKU_LOG_VERSION): Uint8Array {
  invariant(Number.isInteger(version) && version >= 0 && version <= 0xffffffff, `log version ${version} is not a u32`);
  const out = new Uint8Array(LOG_FILE_HEADER_SIZE);
  out.set(MAGIC_BYTES, 0);
  new DataView(out.buffer).setUint32(8, version, false);
  return out;
}

/** True when buf starts with the 8-byte magic. */
export function hasLogMagic(buf: Uint8Array, offset = 0): boolean {
  if (buf.length - offset < MAGIC_BYTES.length) return false;
  for (let i = 0; i < MAGIC_BYTES.length; i++) if (buf[offset + i] !== MAGIC_BYTES[i]) return false;
  return true;
}

/**
 * True when buf (shorter than a header) is how a header begins: the magic as far as buf
 * reaches (the version bytes after it cannot be judged until all four are there).
 */
export function isLogHeaderPrefix(buf: Uint8Array): boolean {
  if (buf.length >= LOG_FILE_HEADER_SIZE) return false;
  const n = Math.min(buf.length, MAGIC_BYTES.length);
  for (let i = 0; i < n; i++) if (buf[i] !== MAGIC_BYTES[i]) return false;
  return true;
}

/** Options for decoding a log file header: the file name for errors and the accepted version range. */
export interface DecodeHeaderOptions {
  file?: string;
  /** Accepted version range; default 13..29 as the log cursor checks (lc_open_logfile). */
  minVersion?: number;
  maxVersion?: number;
}

/** Parse and validate the header at the start of buf; returns the version. */
export function decodeLogFileHeader(buf: Uint8Array, opts: DecodeHeaderOptions = {}): { version: number } {
  const file = opts.file;
  if (buf.length < LOG_FILE_HEADER_SIZE) {
    // A short file can still prove a wrong magic, which is more useful than "truncated".
    const n = Math.min(buf.length, MAGIC_BYTES.length);
    for (let i = 0; i < n; i++) {
      if (buf[i] !== MAGIC_BYTES[i]) throw badMagic(buf, file);
    }
    throw new TokusimError('truncated', `log header needs ${LOG_FILE_HEADER_SIZE} bytes, file has ${buf.length}`, {
      file,
      offset: buf.length,
      expected: String(LOG_FILE_HEADER_SIZE),
      actual: String(buf.length),
    });
  }
  if (!hasLogMagic(buf)) throw badMagic(buf, file);
  const version = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(8, false);
  const min = opts.minVersion ?? TOKU_LOG_MIN_SUPPORTED_VERSION;
  const max = opts.maxVersion ?? TOKU_LOG_VERSION;
  if (version < min || version > max) {
    throw new TokusimError('bad-version', `unsupported log version ${version}`, {
      file,
      offset: 8,
      expected: min === max ? String(min) : `${min}..${max}`,
      actual: String(version),
    });
  }
  return { version };
}

function badMagic(buf: Uint8Array, file: string | undefined): TokusimError {
  const shown = Array.from(buf.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return new TokusimError('bad-magic', 'not a tokulog file (bad magic)', {
    file,
    offset: 0,
    expected: '74 6f 6b 75 6c 6f 67 67 ("tokulogg")',
    actual: shown,
  });
}
