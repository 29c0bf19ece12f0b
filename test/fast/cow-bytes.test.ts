/**
 * Copy-on-write paged bytes (CowBytes) and the dictionary's serializeParts write path. A clone
 * must be a frozen image that copies no bytes; a write must copy only the page it touches; and
 * a checkpoint of CowBytes nodes, written from their pages (gathered in slices, through frame
 * workers or not), must leave on disk exactly frameBlock(serialize(value)) of each node as it
 * was when its pending bit was resolved, byte for byte what a plain Uint8Array codec writes.
 */
import { fastNodeStorage } from './helpers.js';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DictionaryFile } from '../../src/blocks/dictionary-file.js';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { CheckpointableDictionary, frameBlock, NODE_SLICE_BYTES, readCheckpointedImage, type NodeCodec } from '../../src/checkpoint/checkpointable-dictionary.js';
import { Checkpointer } from '../../src/checkpoint/checkpointer.js';
import { COW_PAGE_BYTES, CowBytes, cowBytesCodec } from '../../src/fast/cow-bytes.js';
import { TokusimError } from '../../src/base/errors.js';
import { newFtHeader } from '../../src/format/ft-header.js';
import { LogWriter } from '../../src/log/writer.js';
import type { Storage } from '../../src/storage/storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { PLAIN_CAPABILITIES, type StorageCapabilities } from '../../src/storage/storage.js';
import { fastBlockSinks } from '../../src/fast/block-sinks.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { SharedPageArena, setSharedPages, sharedPages } from '../../src/fast/shared-pages.js';

// ------------------------------------------------------------------ helpers

/** The concatenation of parts. */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Every byte through get(). */
function viaGet(v: CowBytes): Uint8Array {
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v.get(i);
  return out;
}

/** Assert v's bytes, seen every way, equal model, and its pages have the documented layout. */
function expectValue(v: CowBytes, model: Uint8Array): void {
  expect(v.length).toBe(model.length);
  expect(v.toBytes()).toEqual(model);
  expect(viaGet(v)).toEqual(model);
  const parts = v.parts();
  expect(concat(parts)).toEqual(model);
  expect(parts.length).toBe(Math.max(1, Math.ceil(model.length / v.pageBytes)));
  for (let i = 0; i < parts.length - 1; i++) expect(parts[i]!.length).toBe(v.pageBytes);
  expect(v.ownedPages).toBeGreaterThanOrEqual(0);
  expect(v.ownedPages).toBeLessThanOrEqual(parts.length);
}

/** True when a and b hold the same bytes (Buffer.equals: fast on 256 KiB nodes, unlike a deep toEqual). */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Assert actual holds exactly expected's bytes; on a mismatch name the length or the first differing offset. */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array | undefined, what: string): void {
  expect(actual, `${what}: present`).toBeInstanceOf(Uint8Array);
  expect(expected, `${what}: expected present`).toBeInstanceOf(Uint8Array);
  const a = actual!;
  const e = expected!;
  expect(a.length, `${what}: length`).toBe(e.length);
  if (!bytesEqual(a, e)) {
    let i = 0;
    while (a[i] === e[i]) i++;
    expect(`byte ${i} is ${a[i]}`, `${what}: first differing byte`).toBe(`byte ${i} is ${e[i]}`);
  }
}

/** A deterministic, node-specific byte pattern (distinct nodes differ in every page). */
function content(seed: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let j = 0; j < len; j++) out[j] = (j * 131 + seed * 17 + 7 + (j >>> 8) * 3) & 0xff;
  return out;
}

/** Run fn and return the TokusimError it throws (failing if it throws nothing or something else). */
function thrown(fn: () => unknown): TokusimError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokusimError);
    return err as TokusimError;
  }
  throw new Error('expected a TokusimError, nothing was thrown');
}

// ------------------------------------------------------------------ the value itself

type Cmd =
  | { k: 'set'; t: number; off: number; byte: number }
  | { k: 'write'; t: number; off: number; bytes: Uint8Array }
  | { k: 'clone'; t: number }
  | { k: 'page'; t: number; page: number; writes: Array<[number, number]> };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), t: fc.nat(), off: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('write' as const), t: fc.nat(), off: fc.nat(), bytes: fc.uint8Array({ maxLength: 150 }) }),
  fc.record({ k: fc.constant('clone' as const), t: fc.nat() }),
  fc.record({
    k: fc.constant('page' as const),
    t: fc.nat(),
    page: fc.nat(),
    writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
  }),
);

describe('CowBytes', () => {
  // Property: for any page size, length and sequence of set/write/writablePage writes and
  // clones on a family of values cloned from one original, every value reads (toBytes, get,
  // parts) exactly as a plain array that received only that value's own writes, starting
  // from a copy of its source at clone time: no write is ever visible in another value.
  it('Scenario: clones are frozen images and writes stay private, against a plain-array model', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(cmdArb, { maxLength: 40 }),
        (pageBytes, initial, cmds) => {
          const values: CowBytes[] = [CowBytes.from(initial, pageBytes)];
          const models: Uint8Array[] = [initial.slice()];
          expectValue(values[0]!, models[0]!);
          for (const c of cmds) {
            const t = c.t % values.length;
            const v = values[t]!;
            const m = models[t]!;
            const len = m.length;
            switch (c.k) {
              case 'set': {
                if (len === 0) continue;
                const off = c.off % len;
                v.set(off, c.byte);
                m[off] = c.byte;
                break;
              }
              case 'write': {
                const off = c.off % (len + 1);
                const bytes = c.bytes.subarray(0, len - off);
                v.write(off, bytes);
                m.set(bytes, off);
                break;
              }
              case 'clone': {
                const copy = v.clone();
                expect(copy.ownedPages).toBe(0);
                expect(v.ownedPages).toBe(0);
                values.push(copy);
                models.push(m.slice());
                break;
              }
              case 'page': {
                const pages = v.parts().length;
                const i = c.page % pages;
                const page = v.writablePage(i);
                expect(v.parts()[i]).toBe(page);
                for (const [at, byte] of c.writes) {
                  if (page.length === 0) break;
                  const k = at % page.length;
                  page[k] = byte;
                  m[i * pageBytes + k] = byte;
                }
                break;
              }
            }
            for (let j = 0; j < values.length; j++) expectValue(values[j]!, models[j]!);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('Scenario: clone() shares every page and copies none; the first write after it copies exactly one page', () => {
    const original = CowBytes.from(content(1, 70), 16); // pages of 16, 16, 16, 16, 6
    expect(original.ownedPages).toBe(5);
    const pagesBefore = [...original.parts()];
    const clone = original.clone();
    // No page was replaced or copied: both hold the very same arrays.
    expect(clone.parts()).not.toBe(original.parts());
    expect(clone.parts().length).toBe(5);
    for (let i = 0; i < 5; i++) {
      expect(original.parts()[i]).toBe(pagesBefore[i]);
      expect(clone.parts()[i]).toBe(pagesBefore[i]);
    }
    expect(original.ownedPages).toBe(0);
    expect(clone.ownedPages).toBe(0);

    original.set(20, 0xee); // page 1
    expect(original.parts()[1]).not.toBe(pagesBefore[1]);
    expect(clone.parts()[1]).toBe(pagesBefore[1]);
    for (const i of [0, 2, 3, 4]) {
      expect(original.parts()[i]).toBe(pagesBefore[i]);
      expect(clone.parts()[i]).toBe(pagesBefore[i]);
    }
    expect(original.ownedPages).toBe(1);
    expect(clone.ownedPages).toBe(0);
    expect(original.get(20)).toBe(0xee);
    expect(clone.get(20)).toBe(content(1, 70)[20]);
    expect(clone.toBytes()).toEqual(content(1, 70));

    // A second write to the owned page writes in place: no further copy.
    const owned = original.parts()[1];
    original.write(16, new Uint8Array([1, 2, 3]));
    expect(original.parts()[1]).toBe(owned);
    expect(original.ownedPages).toBe(1);
    expect(original.writablePage(1)).toBe(owned);

    // The clone may be written too; it copies its own page and the original keeps its own.
    clone.set(69, 0x11); // page 4
    expect(clone.parts()[4]).not.toBe(pagesBefore[4]);
    expect(original.parts()[4]).toBe(pagesBefore[4]);
    expect(clone.ownedPages).toBe(1);
    expect(original.get(69)).toBe(content(1, 70)[69]);

    // A clone of a clone shares the first clone's current pages, and takes ownership from it.
    const second = clone.clone();
    for (let i = 0; i < 5; i++) expect(second.parts()[i]).toBe(clone.parts()[i]);
    expect(clone.ownedPages).toBe(0);
    clone.set(69, 0x22);
    expect(second.get(69)).toBe(0x11);
    expect(clone.get(69)).toBe(0x22);

    // A value never cloned writes in place.
    const fresh = CowBytes.alloc(40, 9, 16);
    const p0 = fresh.parts()[0];
    fresh.set(3, 4);
    expect(fresh.parts()[0]).toBe(p0);
    expect(fresh.ownedPages).toBe(3);
  });

  it('Scenario: an access outside the value throws bad-argument with the offset and changes nothing', () => {
    const v = CowBytes.from(content(2, 50), 8);
    const shared = v.clone();
    const partsBefore = [...v.parts()];
    const before = v.toBytes();
    const cases: Array<[() => unknown, number]> = [
      [() => v.get(50), 50],
      [() => v.get(-1), -1],
      [() => v.get(1.5), 1.5],
      [() => v.get(1000), 1000],
      [() => v.set(50, 1), 50],
      [() => v.set(-3, 1), -3],
      [() => v.write(49, new Uint8Array([7, 7])), 49], // straddles the end: no byte may be written
      [() => v.write(45, new Uint8Array(10).fill(9)), 45],
      [() => v.write(51, new Uint8Array(0)), 51],
      [() => v.write(-1, new Uint8Array([1])), -1],
    ];
    for (const [fn, offset] of cases) {
      const err = thrown(fn);
      expect(err.kind).toBe('bad-argument');
      expect(err.where.offset).toBe(offset);
      expect(err.message).toContain(String(offset));
      // Unchanged: same bytes, no page copied by the failed write (it still shares with the clone).
      expect(v.toBytes()).toEqual(before);
      expect(v.ownedPages).toBe(0);
      v.parts().forEach((p, i) => expect(p).toBe(partsBefore[i]));
    }
    expect(shared.toBytes()).toEqual(before);
    // The edges themselves are inside: the last byte, and an empty write at the end.
    v.write(50, new Uint8Array(0));
    expect(v.ownedPages).toBe(0);
    v.set(49, 0xab);
    expect(v.get(49)).toBe(0xab);
    const empty = CowBytes.from(new Uint8Array(0), 8);
    expect(thrown(() => empty.get(0)).kind).toBe('bad-argument');
  });

  it('Scenario: a bad page size, length, page index or byte value throws bad-argument and changes nothing', () => {
    const bad = (f: () => unknown): void => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TokusimError);
      expect((err as TokusimError).kind).toBe('bad-argument');
    };
    for (const pageBytes of [0, -1, 1.5, Number.NaN]) {
      bad(() => CowBytes.from(new Uint8Array(10), pageBytes));
      bad(() => CowBytes.alloc(10, 0, pageBytes));
    }
    bad(() => CowBytes.alloc(-1));
    bad(() => CowBytes.alloc(2.5));
    const v = CowBytes.alloc(10, 7, 4);
    const c = v.clone();
    bad(() => v.writablePage(3));
    bad(() => v.writablePage(-1));
    for (const byte of [256, -1, 1.5, Number.NaN]) bad(() => v.set(0, byte));
    // Nothing was copied or changed by the refused calls.
    expect(v.ownedPages).toBe(0);
    expect([...v.toBytes()]).toEqual(new Array(10).fill(7));
    expect(v.parts().every((p, i) => p === c.parts()[i])).toBe(true);
    v.set(0, 255);
    expect(v.get(0)).toBe(255);
  });

  it('Scenario: pages are full except the last, which holds the remainder; from() copies its input', () => {
    for (const pageBytes of [1, 2, 7, 64, COW_PAGE_BYTES]) {
      for (const len of [0, 1, pageBytes - 1, pageBytes, pageBytes + 1, 3 * pageBytes, 3 * pageBytes + 5]) {
        const input = content(len + pageBytes, len);
        for (const v of [CowBytes.from(input, pageBytes), CowBytes.alloc(len, 0x5a, pageBytes)]) {
          const parts = v.parts();
          expect(parts.length).toBe(Math.max(1, Math.ceil(len / pageBytes)));
          const rem = len % pageBytes === 0 ? Math.min(len, pageBytes) : len % pageBytes;
          expect(parts[parts.length - 1]!.length).toBe(rem);
          for (let i = 0; i < parts.length - 1; i++) expect(parts[i]!.length).toBe(pageBytes);
          expect(v.ownedPages).toBe(parts.length);
          expect(v.length).toBe(len);
          expect(v.pageBytes).toBe(pageBytes);
        }
        const v = CowBytes.from(input, pageBytes);
        expect(v.toBytes()).toEqual(input);
        expect(CowBytes.alloc(len, 0x5a, pageBytes).toBytes()).toEqual(new Uint8Array(len).fill(0x5a));
        // No aliasing: neither of the input, nor of toBytes' result.
        if (len > 0) {
          const copy = input.slice();
          input.fill(input[0]! ^ 0xff);
          expect(v.toBytes()).toEqual(copy);
          const out = v.toBytes();
          out[0] = out[0]! ^ 0xff;
          expect(v.get(0)).toBe(copy[0]);
        }
      }
    }
    expect(CowBytes.from(new Uint8Array(5)).pageBytes).toBe(COW_PAGE_BYTES);
  });

  it('Scenario: 4 KiB pages live in the shared page arena; a clone adds a holder to each page, a copy-on-write moves one', () => {
    const arena = new SharedPageArena(65536); // 16 pages
    const before = sharedPages();
    setSharedPages(arena);
    try {
      const v = CowBytes.from(content(4, 3 * COW_PAGE_BYTES + 100)); // 4 pages
      const ids = v.parts().map((p) => arena.pageOf(p));
      expect(ids.every((id) => id >= 0)).toBe(true);
      expect(ids.map((id) => arena.count(id))).toEqual([1, 1, 1, 1]);
      // Fresh pages lie back to back, so the codec hands them over as one run.
      expect(cowBytesCodec().serializeParts!(v, 1n).length).toBe(1);
      const c = v.clone();
      expect(ids.map((id) => arena.count(id))).toEqual([2, 2, 2, 2]);
      v.set(COW_PAGE_BYTES + 1, 0x5a); // page 1 copied: the value lets go of the shared page
      expect(arena.count(ids[1]!)).toBe(1);
      const moved = arena.pageOf(v.parts()[1]!);
      expect(moved).toBeGreaterThanOrEqual(0);
      expect(ids).not.toContain(moved);
      expect(arena.count(moved)).toBe(1);
      expect(c.toBytes()).toEqual(content(4, 3 * COW_PAGE_BYTES + 100));
      expect(v.get(COW_PAGE_BYTES + 1)).toBe(0x5a);
      // Now three runs: page 0, the copied page 1, pages 2-3.
      const runs = cowBytesCodec().serializeParts!(v, 1n);
      expect(runs.length).toBe(3);
      expect(concat(runs)).toEqual(v.toBytes());
      // Other page sizes stay out of the arena.
      const other = CowBytes.from(content(5, 100), 16);
      expect(other.parts().every((p) => arena.pageOf(p) === -1)).toBe(true);
    } finally {
      setSharedPages(before);
    }
  });

  it('Scenario: when the arena is full, a value keeps the rest of its pages on plain shared memory and reads and clones the same', () => {
    const arena = new SharedPageArena(65536); // 16 pages
    const before = sharedPages();
    setSharedPages(arena);
    try {
      const filler = CowBytes.alloc(14 * COW_PAGE_BYTES, 1); // 14 of the 16 pages
      const bytes = content(6, 5 * COW_PAGE_BYTES - 3);
      const v = CowBytes.from(bytes);
      const inArena = v.parts().map((p) => arena.pageOf(p) >= 0);
      expect(inArena).toEqual([true, true, false, false, false]);
      expect(v.toBytes()).toEqual(bytes);
      const c = v.clone();
      v.write(0, new Uint8Array(5 * COW_PAGE_BYTES - 3).fill(9)); // every page copied, none fits the arena
      expect(c.toBytes()).toEqual(bytes);
      expect(v.toBytes().every((b) => b === 9)).toBe(true);
      expect(concat(cowBytesCodec().serializeParts!(c, 1n))).toEqual(bytes);
      expect(filler.get(0)).toBe(1);
    } finally {
      setSharedPages(before);
    }
  });

  it('Scenario: cowBytesCodec serializes to the bytes, hands over the very pages, and round-trips', () => {
    const codec = cowBytesCodec(10);
    const bytes = content(3, 95);
    const v = codec.deserialize(bytes, 5n);
    expect(v.pageBytes).toBe(10);
    expect(v.parts().length).toBe(10);
    bytes[0] = bytes[0]! ^ 1; // the value owns a copy
    expect(v.get(0)).toBe(content(3, 95)[0]);
    expect(codec.serialize(v, 5n)).toEqual(content(3, 95));
    // serializeParts hands over the pages themselves (back-to-back ones as one view of the
    // same memory, so no byte is copied): here all ten pages lie in one buffer.
    const parts = codec.serializeParts!(v, 5n);
    expect(parts.length).toBe(1);
    expect(parts[0]!.buffer).toBe(v.parts()[0]!.buffer);
    expect(parts[0]!.byteOffset).toBe(v.parts()[0]!.byteOffset);
    expect(concat(parts)).toEqual(codec.serialize(v, 5n));
    expect(codec.sizeOf!(v)).toBe(95);
    const c = codec.clone!(v, 5n);
    expect(c).not.toBe(v);
    c.parts().forEach((p, i) => expect(p).toBe(v.parts()[i]));
    expect(cowBytesCodec().deserialize(new Uint8Array(10), 1n).pageBytes).toBe(COW_PAGE_BYTES);
  });
});

// ------------------------------------------------------------------ through a dictionary

/** SimStorage with a yield hook (a microtask), so the sliced gather and framing run without frame workers. */
class YieldingSimStorage extends SimStorage {
  yields = 0;
  private readonly countedYield = (): Promise<void> => {
    this.yields++;
    return Promise.resolve();
  };
  override readonly capabilities: StorageCapabilities = {
    ...PLAIN_CAPABILITIES,
    yieldNow: this.countedYield,
    blockSinks: fastBlockSinks({ yieldNow: this.countedYield, framedWrites: false }),
  };
}

type Kind = 'sim' | 'sim-yield' | 'node-main' | 'node-workers';

/** Node sizes: below, at and just over one slice, 256 KiB, and one that is no multiple of anything. */
const SIZES = [100, NODE_SLICE_BYTES, NODE_SLICE_BYTES + 1, 256 * 1024, 70_001];
/** The nodes the client rewrites during the second checkpoint. */
const CLIENT_NODES = [0, 2, 3, 4];

/** One change to a node, applied by the CowBytes adapter through the named method. */
interface Edit {
  off: number;
  bytes: Uint8Array;
  how: 'set' | 'write' | 'page';
}

/** How a scenario builds, edits and reads node values of one codec. */
interface Adapter<V> {
  codec: NodeCodec<V>;
  make(bytes: Uint8Array): V;
  edit(v: V, e: Edit): void;
  bytesOf(v: V): Uint8Array;
  /** A snapshot of v as it is now, which later edits to v must not change. */
  freeze(v: V): { bytes(): Uint8Array; serialized(): Uint8Array };
  /** Clones the dictionary made through the codec, and how many of them shared every page with their source. */
  clones?: { made: number; sharedEveryPage: number };
}

function cowAdapter(pageBytes: number): Adapter<CowBytes> {
  const base = cowBytesCodec(pageBytes);
  const clones = { made: 0, sharedEveryPage: 0 };
  const codec: NodeCodec<CowBytes> = {
    ...base,
    clone(v, b) {
      const c = base.clone!(v, b);
      clones.made++;
      if (c.parts().length === v.parts().length && c.parts().every((p, i) => p === v.parts()[i]) && v.ownedPages === 0) clones.sharedEveryPage++;
      return c;
    },
  };
  return {
    codec,
    clones,
    make: (b) => CowBytes.from(b, pageBytes),
    edit(v, e) {
      if (e.how === 'write') {
        v.write(e.off, e.bytes);
      } else if (e.how === 'set') {
        e.bytes.forEach((b, i) => v.set(e.off + i, b));
      } else {
        for (let i = 0; i < e.bytes.length; i++) {
          const at = e.off + i;
          v.writablePage(Math.floor(at / v.pageBytes))[at % v.pageBytes] = e.bytes[i]!;
        }
      }
    },
    bytesOf: (v) => v.toBytes(),
    freeze(v) {
      const c = v.clone();
      return { bytes: () => c.toBytes(), serialized: () => codec.serialize(c, 0n) };
    },
  };
}

/** A plain Uint8Array codec without serializeParts: the reference the parts path must match. */
const plainAdapter: Adapter<Uint8Array> = {
  codec: {
    serialize: (v) => v,
    deserialize: (b) => b.slice(),
    clone: (v) => v.slice(),
    sizeOf: (v) => v.length,
  },
  make: (b) => b.slice(),
  edit: (v, e) => v.set(e.bytes, e.off),
  bytesOf: (v) => v.slice(),
  freeze(v) {
    const c = v.slice();
    return { bytes: () => c.slice(), serialized: () => c };
  },
};

/** The edits of round r to node i (of len bytes): spread over the node, touching first, middle and last pages. */
function editsFor(r: number, i: number, len: number): Edit[] {
  const hows: Edit['how'][] = ['set', 'write', 'page'];
  const at = [0, Math.floor(len / 2), Math.max(0, len - 5), Math.floor(len / 3)];
  return at.map((off, k) => {
    const n = Math.min(5 + k * 40, len - off);
    return { off, bytes: new Uint8Array(n).fill((r * 50 + i * 7 + k + 1) & 0xff), how: hows[(r + i + k) % 3]! };
  });
}

function applyModel(m: Uint8Array, edits: Edit[]): void {
  for (const e of edits) m.set(e.bytes, e.off);
}

interface ScenarioResult {
  nodes: bigint[];
  /** Checkpoint 1: the nodes as put. */
  image1: Map<bigint, Uint8Array>;
  /** Checkpoint 2: the nodes as they were when each pending bit was resolved. */
  image2: Map<bigint, Uint8Array>;
  expected2: Uint8Array[];
  /** Raw blocks of checkpoint 2, read through a fresh DictionaryFile. */
  blocks2: Map<bigint, Uint8Array>;
  /** After checkpoint 3, close and reopen: the nodes fetched back, and their raw blocks. */
  reopened: Uint8Array[];
  blocks3: Map<bigint, Uint8Array>;
  expected3: Uint8Array[];
  /** The snapshots the client took at the moment it resolved each pending bit. */
  atResolve: Map<number, { before: Uint8Array; frozen: { bytes(): Uint8Array; serialized(): Uint8Array } }>;
  clientResolved: number;
  pairsCloned: number;
  /** Client pins of pending nodes that tryGetAndPin made without waiting. */
  tryPinned: number;
  fileAfter2: Uint8Array;
}

async function rawBlocks(storage: Storage, path: string, nodes: bigint[]): Promise<Map<bigint, Uint8Array>> {
  const { file } = await DictionaryFile.open(storage, path, { mode: 'read' });
  try {
    const out = new Map<bigint, Uint8Array>();
    for (const b of nodes) out.set(b, (await file.readBlock(b)).slice());
    return out;
  } finally {
    await file.close();
  }
}

async function fileBytes(storage: Storage, path: string): Promise<Uint8Array> {
  if (storage instanceof SimStorage) return storage.fileBytes(path)!.slice();
  return new Uint8Array(await readFile(path));
}

/**
 * Put SIZES nodes, checkpoint; edit every node, then checkpoint again while (in afterBegin,
 * awaited) a client write-pins CLIENT_NODES (alternating getAndPin and tryGetAndPin), so they
 * are cloned on the client path, and edits them twice; then checkpoint a third time, close
 * and reopen the dictionary on a fresh cachetable and fetch every node.
 */
async function scenario<V>(storage: Storage, base: string, a: Adapter<V>): Promise<ScenarioResult> {
  const path = `${base}/d.tokudb`;
  const ct = new Cachetable();
  const log = await LogWriter.open({ storage, dir: `${base}/log` });
  let dict: CheckpointableDictionary<V> | null = null;
  const nodes: bigint[] = [];
  const models = SIZES.map((len, i) => content(i + 1, len));
  const atResolve: ScenarioResult['atResolve'] = new Map();
  let duringCheckpoint: (() => Promise<void>) | null = null;
  let tryPinned = 0;
  const cp = new Checkpointer({
    cachetable: ct,
    clock: new VirtualClock(),
    logger: log,
    periodSeconds: 0,
    hooks: {
      afterBegin: async () => {
        if (duringCheckpoint !== null) await duringCheckpoint();
      },
    },
  });
  dict = await CheckpointableDictionary.create<V>({ cachetable: ct, storage, path, filenum: 1, codec: a.codec, header: newFtHeader({ now: 1n }) });
  cp.attach(dict.cachefile, dict);
  for (const m of models) {
    const p = await ct.put(dict.cachefile, () => dict.allocateBlocknum(), a.make(m), m.length);
    nodes.push(p.blocknum);
    ct.unpin(p, { dirty: true });
  }
  await cp.checkpoint();
  const image1 = (await readCheckpointedImage(storage, path, { deserialize: (b: Uint8Array) => b.slice() })).blocks;

  // Round 1: every node changes (dirty, so the second checkpoint must write it).
  for (let i = 0; i < nodes.length; i++) {
    const p = await ct.getAndPin(dict.cachefile, nodes[i]!, { mode: 'write' });
    const edits = editsFor(1, i, models[i]!.length);
    for (const e of edits) a.edit(p.value, e);
    applyModel(models[i]!, edits);
    ct.unpin(p, { dirty: true });
  }
  const expected2 = models.map((m) => m.slice());

  const resolvedBefore = ct.stats.pendingResolved.client;
  const clonedBefore = ct.stats.pairsCloned;
  duringCheckpoint = async () => {
    for (const [n, i] of CLIENT_NODES.entries()) {
      const cf = dict.cachefile;
      const tried = n % 2 === 1 ? ct.tryGetAndPin(cf, nodes[i]!, { mode: 'write' }) : undefined;
      if (tried !== undefined) tryPinned++;
      const p = tried ?? (await ct.getAndPin(cf, nodes[i]!, { mode: 'write' }));
      expect(p.checkpointPending).toBe(false);
      atResolve.set(i, { before: a.bytesOf(p.value), frozen: a.freeze(p.value) });
      for (const r of [2, 3]) {
        const edits = editsFor(r, i, models[i]!.length);
        for (const e of edits) a.edit(p.value, e);
        applyModel(models[i]!, edits);
      }
      ct.unpin(p, { dirty: true });
      // A second pin (no longer pending) edits the live value again.
      const q = await ct.getAndPin(cf, nodes[i]!, { mode: 'write' });
      const edits = editsFor(4, i, models[i]!.length);
      for (const e of edits) a.edit(q.value, e);
      applyModel(models[i]!, edits);
      ct.unpin(q, { dirty: true });
    }
  };
  await cp.checkpoint();
  duringCheckpoint = null;
  const clientResolved = ct.stats.pendingResolved.client - resolvedBefore;
  const pairsCloned = ct.stats.pairsCloned - clonedBefore;
  const image2 = (await readCheckpointedImage(storage, path, { deserialize: (b: Uint8Array) => b.slice() })).blocks;
  const blocks2 = await rawBlocks(storage, path, nodes);
  const fileAfter2 = await fileBytes(storage, path);

  // The live values carry every edit.
  for (let i = 0; i < nodes.length; i++) {
    const p = await ct.getAndPin(dict.cachefile, nodes[i]!, { mode: 'read' });
    expectBytes(a.bytesOf(p.value), models[i], `live node ${i}`);
    ct.unpin(p);
  }
  await cp.checkpoint();
  await cp.shutdown();
  await log.close();
  await dict.close();

  const ct2 = new Cachetable();
  const again = await CheckpointableDictionary.open<V>({ cachetable: ct2, storage, path, filenum: 1, codec: a.codec });
  const reopened: Uint8Array[] = [];
  for (const b of nodes) {
    const p = await ct2.getAndPin(again.cachefile, b, { mode: 'read' });
    reopened.push(a.bytesOf(p.value));
    ct2.unpin(p);
  }
  await again.close();
  const blocks3 = await rawBlocks(storage, path, nodes);
  return { nodes, image1, image2, expected2, blocks2, reopened, blocks3, expected3: models, atResolve, clientResolved, pairsCloned, tryPinned, fileAfter2 };
}

/** A storage of the given kind, rooted at base (its log directory made). */
async function makeStorage(kind: Kind, root: string, name: string): Promise<{ storage: Storage; base: string; close: () => Promise<void> }> {
  if (kind === 'sim' || kind === 'sim-yield') {
    const storage = kind === 'sim' ? new SimStorage({ seed: 11, ioJitter: 20 }) : new YieldingSimStorage({ seed: 11, ioJitter: 20 });
    await storage.mkdir('data');
    await storage.mkdir('data/log');
    return { storage, base: 'data', close: async () => {} };
  }
  const base = join(root, name);
  await mkdir(join(base, 'log'), { recursive: true });
  const storage = fastNodeStorage({ frameWorkers: kind === 'node-workers' ? 2 : 0 });
  return { storage, base, close: () => storage.close() };
}

describe('CowBytes nodes through a checkpointable dictionary', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tokusim-cow-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const cases: Array<[Kind, number]> = [
    ['sim', COW_PAGE_BYTES],
    ['sim', 3000],
    ['sim-yield', COW_PAGE_BYTES],
    ['sim-yield', 3000],
    ['sim-yield', 100_000],
    ['node-main', 3000],
    ['node-workers', COW_PAGE_BYTES],
    ['node-workers', 3000],
    ['node-workers', 100_000],
  ];

  for (const [kind, pageBytes] of cases) {
    it(`Scenario: on ${kind} with ${pageBytes}-byte pages, the checkpoint writes each node as it was when its pending bit was resolved, framed as frameBlock(serialize)`, async () => {
      const { storage, base, close } = await makeStorage(kind, root, `${kind}-${pageBytes}`);
      if (kind === 'sim') expect(storage.capabilities.yieldNow).toBeNull();
      else expect(storage.capabilities.yieldNow).toBeTypeOf('function');
      try {
        const a = cowAdapter(pageBytes);
        const r = await scenario(storage, base, a);
        if (kind === 'node-workers') expect((storage as ReturnType<typeof fastNodeStorage>).fast.frameWorkersRunning).toBeGreaterThan(0);
        if (storage instanceof YieldingSimStorage) expect(storage.yields).toBeGreaterThan(0);

        // Checkpoint 1: the nodes as put.
        expect(r.image1.size).toBe(SIZES.length);
        r.nodes.forEach((b, i) => expectBytes(r.image1.get(b), content(i + 1, SIZES[i]!), `checkpoint 1, node ${i}`));

        // The client resolved its nodes' bits itself and cloned them (dirty and pending).
        expect(r.clientResolved).toBe(CLIENT_NODES.length);
        expect(r.pairsCloned).toBeGreaterThanOrEqual(CLIENT_NODES.length);
        // Half of them through the non-blocking pin (nothing else holds a lock at that moment).
        expect(r.tryPinned).toBe(CLIENT_NODES.length / 2);
        // Every clone the dictionary made (client or checkpoint) shared all pages: no byte copied.
        expect(a.clones!.made).toBeGreaterThanOrEqual(r.pairsCloned);
        expect(a.clones!.sharedEveryPage).toBe(a.clones!.made);

        // Checkpoint 2: every node as it was when its bit was resolved: the client's snapshot
        // (taken right after its pin) for the client's nodes, the pre-checkpoint value for the rest.
        expect(r.image2.size).toBe(SIZES.length);
        r.nodes.forEach((b, i) => {
          const snap = r.atResolve.get(i);
          if (snap !== undefined) {
            expectBytes(snap.before, r.expected2[i], `node ${i} at its pin`);
            // The frozen snapshot was not touched by the client's later edits.
            expectBytes(snap.frozen.bytes(), r.expected2[i], `node ${i}'s frozen snapshot`);
            expectBytes(r.blocks2.get(b), frameBlock(snap.frozen.serialized(), { padTo512: true }), `checkpoint 2 block of node ${i} vs its snapshot`);
          }
          expectBytes(r.image2.get(b), r.expected2[i], `checkpoint 2, node ${i}`);
          expectBytes(r.blocks2.get(b), frameBlock(a.codec.serialize(a.make(r.expected2[i]!), b), { padTo512: true }), `checkpoint 2 block of node ${i}`);
          // The client's nodes really changed afterwards: the check above could tell them apart.
          if (snap !== undefined) expect(bytesEqual(r.expected3[i]!, r.expected2[i]!)).toBe(false);
        });

        // Checkpoint 3, reopened on a fresh cachetable: every edit, fetched back and framed alike.
        r.nodes.forEach((b, i) => {
          expectBytes(r.reopened[i], r.expected3[i], `reopened node ${i}`);
          expectBytes(r.blocks3.get(b), frameBlock(r.expected3[i]!, { padTo512: true }), `checkpoint 3 block of node ${i}`);
        });
      } finally {
        await close();
      }
    });
  }

  for (const kind of ['sim', 'sim-yield', 'node-main', 'node-workers'] as const) {
    it(`Scenario: on ${kind}, the blocks written from CowBytes pages equal those a plain Uint8Array codec writes for the same content`, async () => {
      const cow = await makeStorage(kind, root, `${kind}-cow`);
      const plain = await makeStorage(kind, root, `${kind}-plain`);
      try {
        const rc = await scenario(cow.storage, cow.base, cowAdapter(3000));
        const rp = await scenario(plain.storage, plain.base, plainAdapter);
        expect(rc.nodes).toEqual(rp.nodes);
        rc.nodes.forEach((b, i) => {
          expectBytes(rc.expected2[i], rp.expected2[i], `node ${i}'s content at checkpoint 2`);
          expectBytes(rc.expected3[i], rp.expected3[i], `node ${i}'s content at checkpoint 3`);
          expectBytes(rc.blocks2.get(b), rp.blocks2.get(b), `checkpoint 2 block of node ${i}`);
          expectBytes(rc.blocks3.get(b), rp.blocks3.get(b), `checkpoint 3 block of node ${i}`);
        });
        // On SimStorage without a yield hook both paths make the same I/O calls in the same
        // order, so the whole file after checkpoint 2 matches (allocation, BTT and header
        // included). With yields the gather adds slices, which may reorder the background
        // clone writes and so the allocation: there only the blocks are compared.
        if (kind === 'sim') expectBytes(rc.fileAfter2, rp.fileAfter2, 'file after checkpoint 2');
      } finally {
        await cow.close();
        await plain.close();
      }
    });
  }
});
