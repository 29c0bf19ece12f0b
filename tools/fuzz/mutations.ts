/**
 * Seeded mutations of tokulog files and dictionary files, for the hostile-input fuzzer
 * (tools/fuzz/mutate-fuzz.ts) and its bounded copy in the test suite.
 *
 * Besides blind damage (bit flips, truncation, garbage), most mutations change one length,
 * size or offset field and then RE-COMPUTE the checksum that covers it, so the damage passes
 * every checksum and only the readers' bounds checks stand between it and an allocation or
 * read of whatever the field claims.
 *
 * Invariants:
 *  - A mutation is a pure function of (input bytes, Prng state): the same seed gives the same
 *    mutated bytes and the same description.
 *  - The input array is never modified; every mutation returns a fresh copy.
 */
import CRC32 from 'crc-32';
import { Prng } from '../../src/base/prng.js';
import { x1764 } from '../../src/format/x1764.js';

export type FileKind = 'log' | 'dict';

export interface Mutated {
  bytes: Uint8Array;
  /** What was done, for a replayable failure report. */
  desc: string;
}

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const setU32 = (b: Uint8Array, o: number, v: number): void => {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(o, v >>> 0, true);
};
const u32be = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, false);
const setU32be = (b: Uint8Array, o: number, v: number): void => {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(o, v >>> 0, false);
};
/** PerconaFT's u64: high word first, each word little-endian. */
const u64 = (b: Uint8Array, o: number): bigint => (BigInt(u32(b, o)) << 32n) | BigInt(u32(b, o + 4));
const setU64 = (b: Uint8Array, o: number, v: bigint): void => {
  const x = BigInt.asUintN(64, v);
  setU32(b, o, Number(x >> 32n));
  setU32(b, o + 4, Number(x & 0xffffffffn));
};

function pick<T>(rng: Prng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

/** 64-bit values that have broken readers: sign and width edges, the file's own size. */
function interesting64(rng: Prng, fileSize: number, current: bigint): bigint {
  const fs = BigInt(fileSize);
  return pick(rng, [
    0n, 1n, 2n, 3n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 1n << 53n, (1n << 63n) - 1n, -1n, -2n,
    fs, fs + 1n, fs - 1n, fs + 4096n, 4096n, 8192n, current + 1n, current - 1n, current * 2n, current + 16n,
    BigInt(rng.nextU32()), (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32()),
  ]);
}

function interesting32(rng: Prng, fileSize: number, current: number): number {
  return pick(rng, [0, 1, 7, 0x7fffffff, 0x80000000, 0xffffffff, fileSize, fileSize + 1, current + 1, current - 1, current * 2, 0x10000, rng.nextU32(), rng.int(64)]) >>> 0;
}

// ---- blind damage ------------------------------------------------------------------------

function bitFlip(b: Uint8Array, rng: Prng): string {
  const n = 1 + rng.int(4);
  const at: number[] = [];
  for (let i = 0; i < n && b.length > 0; i++) {
    const o = rng.int(b.length);
    b[o] = b[o]! ^ (1 << rng.int(8));
    at.push(o);
  }
  return `bit flips at ${at.join(',')}`;
}

function truncate(src: Uint8Array, rng: Prng): Mutated {
  const len = rng.chance(0.3) ? rng.int(Math.min(src.length, 40) + 1) : rng.int(src.length + 1);
  return { bytes: src.slice(0, len), desc: `truncated to ${len} bytes` };
}

function garbage(src: Uint8Array, rng: Prng): Mutated {
  if (rng.chance(0.3)) {
    const extra = Uint8Array.from({ length: 1 + rng.int(200) }, () => rng.int(256));
    const out = new Uint8Array(src.length + extra.length);
    out.set(src);
    out.set(extra, src.length);
    return { bytes: out, desc: `${extra.length} garbage bytes appended` };
  }
  const b = src.slice();
  const len = Math.min(b.length, 1 + rng.int(64));
  const at = b.length > len ? rng.int(b.length - len + 1) : 0;
  for (let i = 0; i < len; i++) b[at + i] = rng.int(256);
  return { bytes: b, desc: `${len} garbage bytes at ${at}` };
}

// ---- logs: entry fields with the entry's crc fixed ----------------------------------------

/** Offsets of the entries of a log (walking leading lengths while they stay in the file). */
function logEntryOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  let p = 12;
  while (p + 4 <= b.length) {
    const len = u32(b, p);
    if (len < 29 || p + len > b.length) break;
    out.push(p);
    p += len;
  }
  return out;
}

/** Change a leading len and/or a u32 field inside one entry, then re-compute its crc. */
function logFieldWithCrc(src: Uint8Array, rng: Prng): Mutated | undefined {
  const entries = logEntryOffsets(src);
  if (entries.length === 0) return undefined;
  const b = src.slice();
  const at = pick(rng, entries);
  const len = u32(b, at);
  const crcAt = at + len - 8;
  const what: string[] = [];
  const choice = rng.int(3);
  if (choice !== 1) {
    // A u32 inside the fields: for most entries this hits a BYTESTRING or FILENUMS length.
    const fieldStart = at + 13;
    if (crcAt - fieldStart >= 4) {
      const o = fieldStart + rng.int(crcAt - fieldStart - 3);
      const v = interesting32(rng, b.length, u32(b, o));
      setU32(b, o, v);
      what.push(`u32 at ${o} = ${v}`);
    }
  }
  if (choice !== 0) {
    const v = interesting32(rng, b.length, len);
    setU32(b, at, v);
    if (rng.chance(0.5)) {
      setU32(b, at + len - 4, v);
      what.push(`leading and trailing len at ${at} = ${v}`);
    } else {
      what.push(`leading len at ${at} = ${v}`);
    }
  }
  setU32(b, crcAt, x1764(b, at, crcAt));
  return { bytes: b, desc: `log entry at ${at}: ${what.join('; ')} (crc re-computed)` };
}

// ---- dictionaries: header, BTT, descriptor and node fields with checksums fixed ------------

const HEADER_FIELDS: Array<[string, number, 4 | 8 | 'be']> = [
  ['layout_version', 8, 'be'],
  ['size', 16, 'be'],
  ['checkpoint_count', 28, 8],
  ['checkpoint_lsn', 36, 8],
  ['nodesize', 44, 4],
  ['translation_location', 48, 8],
  ['translation_size', 56, 8],
  ['root_blocknum', 64, 8],
];

function headerSlotOk(b: Uint8Array, off: number): boolean {
  if (b.length < off + 512) return false;
  if (new TextDecoder('latin1').decode(b.subarray(off, off + 8)) !== 'tokudata') return false;
  const size = u32be(b, off + 16);
  return size >= 24 && size <= 4096 && off + size <= b.length && u32(b, off + size - 4) === x1764(b, off, off + size - 4);
}

function fixHeaderChecksum(b: Uint8Array, off: number): void {
  const size = u32be(b, off + 16);
  if (size >= 24 && size <= 4096 && off + size <= b.length) setU32(b, off + size - 4, x1764(b, off, off + size - 4));
}

function validSlots(b: Uint8Array): number[] {
  return [0, 4096].filter((o) => headerSlotOk(b, o));
}

/** The BTT (location, size) of the newest valid slot. */
function chosenBtt(b: Uint8Array): { slot: number; loc: number; size: number } | undefined {
  const slots = validSlots(b);
  if (slots.length === 0) return undefined;
  const slot = slots.reduce((best, o) => (u64(b, o + 28) > u64(b, best + 28) ? o : best));
  const loc = Number(BigInt.asIntN(64, u64(b, slot + 48)));
  const size = Number(BigInt.asIntN(64, u64(b, slot + 56)));
  if (loc <= 0 || size < 20 || loc + size > b.length) return undefined;
  return { slot, loc, size };
}

function headerField(src: Uint8Array, rng: Prng): Mutated | undefined {
  const slots = validSlots(src);
  if (slots.length === 0) return undefined;
  const b = src.slice();
  const off = pick(rng, slots);
  const [name, rel, width] = pick(rng, HEADER_FIELDS);
  let v: string;
  if (width === 8) {
    const x = interesting64(rng, b.length, u64(b, off + rel));
    setU64(b, off + rel, x);
    v = String(BigInt.asIntN(64, x));
  } else if (width === 4) {
    const x = interesting32(rng, b.length, u32(b, off + rel));
    setU32(b, off + rel, x);
    v = String(x);
  } else {
    const x = name === 'size' ? pick(rng, [0, 1, 24, 196, 198, 512, 4096, 4097, 0xffffffff]) : interesting32(rng, b.length, u32be(b, off + rel));
    setU32be(b, off + rel, x);
    v = String(x);
  }
  fixHeaderChecksum(b, off);
  // Sometimes damage both slots the same way, so the reader cannot fall back to the other.
  const both = slots.length === 2 && rng.chance(0.4);
  if (both) {
    const other = off === 0 ? 4096 : 0;
    b.set(b.subarray(off + rel, off + rel + (width === 8 ? 8 : 4)), other + rel);
    fixHeaderChecksum(b, other);
  }
  return { bytes: b, desc: `header ${both ? 'slots 0 and 1' : `slot @${off}`} ${name} = ${v} (checksum re-computed)` };
}

function bttField(src: Uint8Array, rng: Prng): Mutated | undefined {
  const t = chosenBtt(src);
  if (t === undefined) return undefined;
  const b = src.slice();
  const n = Math.floor((t.size - 20) / 16);
  const choice = rng.int(4);
  let desc: string;
  if (choice === 0) {
    const x = interesting64(rng, b.length, u64(b, t.loc));
    setU64(b, t.loc, x);
    desc = `BTT smallest_never_used = ${BigInt.asIntN(64, x)}`;
    if (rng.chance(0.5)) {
      // Keep the header's translation_size consistent with the new N (when it is sane).
      const s = 20n + 16n * BigInt.asIntN(64, x);
      setU64(b, t.slot + 56, s);
      fixHeaderChecksum(b, t.slot);
      desc += ` and header translation_size = ${s}`;
    }
  } else if (choice === 1) {
    const x = interesting64(rng, b.length, u64(b, t.loc + 8));
    setU64(b, t.loc + 8, rng.chance(0.5) ? x : BigInt(rng.int(Math.max(1, n + 2))));
    desc = `BTT freelist head = ${BigInt.asIntN(64, u64(b, t.loc + 8))}`;
  } else {
    const i = rng.int(Math.max(1, n));
    const o = t.loc + 16 + 16 * i + (choice === 2 ? 0 : 8);
    const x = interesting64(rng, b.length, u64(b, o));
    setU64(b, o, x);
    desc = `BTT entry ${i} ${choice === 2 ? 'diskoff' : 'size'} = ${BigInt.asIntN(64, x)}`;
  }
  setU32(b, t.loc + t.size - 4, x1764(b, t.loc, t.loc + t.size - 4));
  return { bytes: b, desc: `${desc} (checksum re-computed)` };
}

/** ON-DISK BTT entries (blocknum, diskoff, size) of the chosen translation. */
function blocks(b: Uint8Array): Array<{ blocknum: number; diskoff: number; size: number }> {
  const t = chosenBtt(b);
  if (t === undefined) return [];
  const n = Math.floor((t.size - 20) / 16);
  const out: Array<{ blocknum: number; diskoff: number; size: number }> = [];
  for (let i = 2; i < n; i++) {
    const diskoff = Number(BigInt.asIntN(64, u64(b, t.loc + 16 + 16 * i)));
    const size = Number(BigInt.asIntN(64, u64(b, t.loc + 24 + 16 * i)));
    if (size > 8 && diskoff > 0 && diskoff + size <= b.length) out.push({ blocknum: i, diskoff, size });
  }
  return out;
}

function descriptorField(src: Uint8Array, rng: Prng): Mutated | undefined {
  const d = blocks(src).find((x) => x.blocknum === 2);
  if (d === undefined) return undefined;
  const b = src.slice();
  const v = interesting32(rng, b.length, u32(b, d.diskoff));
  setU32(b, d.diskoff, v);
  setU32(b, d.diskoff + d.size - 4, x1764(b, d.diskoff, d.diskoff + d.size - 4));
  return { bytes: b, desc: `descriptor length = ${v} (checksum re-computed)` };
}

/**
 * A tokusim block: frame len u32, payload, x1764 of the payload. Change the frame length or a
 * u32 of a node (header fields, or any aligned word of the payload), then fix the node's
 * crc-32 and the frame checksum.
 */
function nodeField(src: Uint8Array, rng: Prng): Mutated | undefined {
  const nodes = blocks(src).filter((x) => x.blocknum >= 3);
  if (nodes.length === 0) return undefined;
  const b = src.slice();
  const blk = pick(rng, nodes);
  const len = u32(b, blk.diskoff);
  if (len + 8 > blk.size) return undefined;
  const p = blk.diskoff + 4;
  let desc: string;
  if (rng.chance(0.25)) {
    const v = interesting32(rng, blk.size, len);
    setU32(b, blk.diskoff, v);
    if (blk.diskoff + 4 + v + 4 <= b.length) setU32(b, p + v, x1764(b, p, p + v));
    desc = `block ${blk.blocknum} frame len = ${v}`;
  } else {
    const isNode = new TextDecoder('latin1').decode(b.subarray(p, p + 8)) === 'tokubtnd';
    const rel = isNode && rng.chance(0.6) ? pick(rng, [16, 20, 24]) : 4 * rng.int(Math.max(1, Math.floor((len - 4) / 4)));
    const v = interesting32(rng, len, u32(b, p + rel));
    setU32(b, p + rel, v);
    if (isNode && len >= 32) setU32(b, p + len - 4, CRC32.buf(b.subarray(p, p + len - 4)) >>> 0);
    setU32(b, p + len, x1764(b, p, p + len));
    desc = `block ${blk.blocknum} u32 at payload+${rel} = ${v}${isNode ? ' (node crc-32 re-computed)' : ''}`;
  }
  return { bytes: b, desc: `${desc} (frame checksum re-computed)` };
}

type Mutator = (src: Uint8Array, rng: Prng) => Mutated | undefined;

/** The mutation classes: blind ones for any file, field ones per file kind. */
export const MUTATIONS = {
  blind: ['bitflip', 'truncate', 'garbage'],
  log: ['log-field'],
  dict: ['header-field', 'btt-field', 'descriptor-field', 'node-field'],
} as const;
export type MutationName = (typeof MUTATIONS)[keyof typeof MUTATIONS][number];

const BLIND: Array<[string, Mutator]> = [
  ['bitflip', (s, r) => {
    const b = s.slice();
    return { bytes: b, desc: bitFlip(b, r) };
  }],
  ['truncate', truncate],
  ['garbage', garbage],
];

const STRUCTURED: Record<FileKind, Array<[string, Mutator]>> = {
  log: [['log-field', logFieldWithCrc]],
  dict: [['header-field', headerField], ['btt-field', bttField], ['descriptor-field', descriptorField], ['node-field', nodeField]],
};

/**
 * One mutation of `src`: about two thirds of the time a checksum-preserving field change
 * (falling back to blind damage when the file has no such field), else blind damage. With
 * `only`, that class when the file has such a field (else the usual draw).
 */
export function mutate(src: Uint8Array, kind: FileKind, rng: Prng, only?: MutationName): Mutated {
  if (only !== undefined) {
    const m = [...BLIND, ...STRUCTURED[kind]].find(([name]) => name === only);
    const r = m?.[1](src, rng);
    if (r !== undefined) return { bytes: r.bytes, desc: `${only}: ${r.desc}` };
  }
  if (rng.chance(0.65)) {
    const [name, m] = pick(rng, STRUCTURED[kind]);
    const r = m(src, rng);
    if (r !== undefined) return { bytes: r.bytes, desc: `${name}: ${r.desc}` };
  }
  const [name, m] = pick(rng, BLIND);
  const r = m(src, rng)!;
  return { bytes: r.bytes, desc: `${name}: ${r.desc}` };
}
