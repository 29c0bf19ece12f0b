/**
 * Reading a small file whole (lock records, identity files) in as few calls as the storage
 * contract allows.
 *
 * Invariant: the bytes returned are the file's first bytes up to its end, exactly as a size()
 * followed by a pread of that size would return them; the size is asked only of a file that
 * fills the first read.
 */
import type { StorageFile } from './storage.js';

/** The first read's size: lock records and identity files are far smaller. */
const FIRST_READ = 512;

/**
 * All of a small file through an open handle: its bytes, or its size when it holds more than
 * maxBytes. The first read asks for up to FIRST_READ bytes; since pread fills the buffer unless
 * the file ends (the Storage contract), a short count means that was all of it, and only a
 * file that filled it is asked its size and read on.
 */
export async function readSmallFile(f: StorageFile, maxBytes: number): Promise<{ bytes: Uint8Array } | { tooLarge: number }> {
  const first = new Uint8Array(Math.min(FIRST_READ, maxBytes + 1));
  const n = await f.pread(first, 0);
  if (n < first.length) return { bytes: first.subarray(0, n) };
  const size = await f.size();
  if (size > maxBytes) return { tooLarge: size };
  const all = new Uint8Array(size);
  all.set(first.subarray(0, Math.min(n, size)));
  const rest = size > n ? await f.pread(all.subarray(n), n) : 0;
  return { bytes: all.subarray(0, Math.min(n, size) + rest) };
}
