/**
 * The few services the core takes from its host, written so the same code runs in Node and in
 * a browser: Node's Buffer is used when the host has one (it is faster for these jobs), and a
 * plain-JavaScript path otherwise. Nothing here is looked up at import time, so importing the
 * core never touches a host global.
 *
 * Invariants:
 *  - Every function returns the same result with and without Node's Buffer.
 *  - latin1String maps each byte to the code point of the same value (never windows-1252, which
 *    a browser's TextDecoder('latin1') would apply).
 */

interface NodeBufferLike {
  allocUnsafeSlow(n: number): Uint8Array;
  from(b: ArrayBufferLike, offset: number, length: number): { toString(enc: string, start?: number, end?: number): string };
  from(s: string, enc: string): Uint8Array;
}

function nodeBuffer(): NodeBufferLike | undefined {
  return (globalThis as { Buffer?: NodeBufferLike }).Buffer;
}

/** A new byte array whose contents the caller overwrites before reading (not zero-filled where the host allows). */
export function allocUninitialized(n: number): Uint8Array {
  const B = nodeBuffer();
  if (B === undefined) return new Uint8Array(n);
  const raw = B.allocUnsafeSlow(n);
  return new Uint8Array(raw.buffer, raw.byteOffset, n);
}

const CHUNK = 0x2000;

/** The string whose code points are the bytes b[start..end). */
export function latin1String(b: Uint8Array, start = 0, end = b.length): string {
  const B = nodeBuffer();
  if (B !== undefined) return B.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
  let out = '';
  for (let i = start; i < end; i += CHUNK) out += String.fromCharCode.apply(null, Array.from(b.subarray(i, Math.min(end, i + CHUNK))));
  return out;
}

const HEX_DIGITS = '0123456789abcdef';

/** Lower-case hex of the bytes. */
export function toHex(b: Uint8Array): string {
  const B = nodeBuffer();
  if (B !== undefined) return B.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  let out = '';
  for (let i = 0; i < b.length; i++) out += HEX_DIGITS[b[i]! >> 4]! + HEX_DIGITS[b[i]! & 15]!;
  return out;
}

/** The bytes of an even-length hex string the caller has already checked. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytewise comparison: negative, zero or positive, as memcmp then length. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Bytewise comparison of the UTF-8 encodings of two strings. */
let encoder: { encode(s: string): Uint8Array } | undefined;

export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 code units below 0xD800 order as their UTF-8 bytes do, and equal code units give
  // equal bytes: the first difference decides, unless a surrogate or a unit past it is there.
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length < 0 ? -1 : 1;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
  encoder ??= new TextEncoder();
  return compareBytes(encoder.encode(a), encoder.encode(b));
}

interface BrowserChannel {
  port1: { onmessage: (() => void) | null; close(): void };
  port2: { postMessage(m: unknown): void };
}

/**
 * Resolve on a later turn of the event loop, after every pending promise continuation has run
 * (setImmediate in Node; a message-channel task in a browser).
 */
export function nextMacrotask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (g.setImmediate !== undefined) return new Promise((resolve) => g.setImmediate!(resolve));
  // A message-channel task is not clamped to 4 ms as nested setTimeout calls are.
  const ch = new (globalThis as unknown as { MessageChannel: new () => BrowserChannel }).MessageChannel();
  return new Promise((resolve) => {
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}
