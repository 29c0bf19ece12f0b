import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { referenceDicts } from './ft-fixtures-helper.js';
import {
  FT_HEADER_SIZE_V29,
  HeaderError,
  TOKUDB_BAD_CHECKSUM,
  TOKUDB_DICTIONARY_NO_HEADER,
  chooseHeader,
  decodeFtHeaderFields,
  encodeFtHeader,
  encodeFtHeaderSector,
  headerSlotForCount,
  newFtHeader,
  validateHeaderSlot,
  type FtHeader,
} from '../../src/format/ft-header.js';
import { decodeTranslationImage, encodeTranslationImage, encodeTranslationPadded } from '../../src/format/btt-format.js';
import { decodeDescriptor, encodeDescriptor } from '../../src/format/descriptor.js';

const dicts = referenceDicts();
const slotsOf = (f: Uint8Array, name: string) =>
  [validateHeaderSlot(f.subarray(0, 4096), 0, name), validateHeaderSlot(f.subarray(4096, 8192), 1, name)] as const;

describe('FT header and BTT against every reference dictionary', () => {
  it('finds all 67 reference dictionary files, nested S7 runs and S8 included', () => {
    expect(dicts.length).toBe(67);
    expect(dicts.some((d) => d.run === 'S7_all_types/crash/tdb-recover')).toBe(true);
    expect(dicts.filter((d) => d.run === 'S8_node_formats').length).toBe(9);
  });

  for (const d of dicts) {
    // Scenario: decode both header slots, the BTT and descriptor each valid slot points to,
    // and re-encode them to the very bytes PerconaFT wrote.
    it(`Scenario: ${d.run}/${d.name} header slots, BTT and descriptor re-encode identically`, () => {
      const f = new Uint8Array(readFileSync(d.path));
      const slots = slotsOf(f, d.name);
      const valid = slots.filter((s) => s.status === 'ok');
      if (f.length === 0) {
        expect(slots.map((s) => s.status)).toEqual(['no-header', 'no-header']);
        return;
      }
      expect(valid.length).toBeGreaterThanOrEqual(1);
      for (const s of slots) {
        if (s.status !== 'ok') {
          // An unused slot is all zeros in the reference files.
          expect(f.subarray(s.offset, s.offset + 512).every((b) => b === 0)).toBe(true);
          continue;
        }
        const h = s.header!;
        expect(encodeFtHeader(h)).toEqual(f.subarray(s.offset, s.offset + FT_HEADER_SIZE_V29));
        expect(encodeFtHeaderSector(h)).toEqual(f.subarray(s.offset, s.offset + 512));
        expect(headerSlotForCount(h.checkpointCount)).toBe(s.slot);
        const loc = Number(h.translationLocation);
        const img = decodeTranslationImage(f.subarray(loc), { file: d.name, location: h.translationLocation, size: h.translationSize });
        expect(encodeTranslationImage(img)).toEqual(f.subarray(loc, loc + Number(h.translationSize)));
        expect(encodeTranslationPadded(img).length % 512).toBe(0);
        if (s === valid[valid.length - 1] || valid.length === 1) {
          const dsz = img.sizes[2]!;
          if (dsz > 0n) {
            const off = Number(img.diskoffs[2]!);
            const desc = decodeDescriptor(f.subarray(off), { file: d.name, offset: img.diskoffs[2]!, size: dsz });
            expect(encodeDescriptor(desc)).toEqual(f.subarray(off, off + Number(dsz)));
          }
        }
      }
      if (valid.length === 2) {
        const diff = valid[0]!.header!.checkpointCount - valid[1]!.header!.checkpointCount;
        expect(diff === 1n || diff === -1n).toBe(true);
      }
    });
  }
});

/** A reference file with two valid slots: S2 one_db (slot 0 count 1, slot 1 count 2). */
const twoSlot = dicts.find((d) => d.run === 'S2_open_txns_at_checkpoint' && d.name === 'one_db_2_1_1d.tokudb')!;
const base = new Uint8Array(readFileSync(twoSlot.path));

describe('choosing a header slot', () => {
  it('Scenario: with both slots valid, the larger checkpoint count wins', () => {
    const [s0, s1] = slotsOf(base, 'f');
    const c = chooseHeader(s0, s1, 'f');
    expect([c.slot, c.header.checkpointCount]).toEqual([1, 2n]);
    // The LSN bound (recovery of the rollback file) can exclude the newer slot.
    const bounded = chooseHeader(s0, s1, 'f', s1.header!.checkpointLsn - 1n);
    expect(bounded.slot).toBe(0);
  });

  // Property: flipping any bit of the 197 checksummed bytes of either slot is detected,
  // and the reader then uses the other slot; bits in the zero padding change nothing.
  it('Property: a bit flip anywhere in a header slot is detected and the other slot is used', () => {
    const [s0, s1] = slotsOf(base, 'f');
    const good = [s0.header!, s1.header!];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 511 }), fc.integer({ min: 0, max: 7 }), (slot, byte, bit) => {
        const f = base.slice();
        f[slot * 4096 + byte]! ^= 1 << bit;
        const [a, b] = slotsOf(f, 'f');
        const damaged = slot === 0 ? a : b;
        const c = chooseHeader(a, b, 'f');
        if (byte < FT_HEADER_SIZE_V29) {
          expect(damaged.status).not.toBe('ok');
          expect(c.slot).toBe(1 - slot);
          expect(c.header).toEqual(good[1 - slot]);
        } else {
          expect(c.header).toEqual(good[1]);
        }
      }),
      { numRuns: 400 },
    );
  });

  // Scenario: every byte position of a bit flip in the newer slot, exhaustively.
  it('Scenario: every single-byte corruption of the newer slot falls back to the older one', () => {
    for (let byte = 0; byte < FT_HEADER_SIZE_V29; byte++) {
      const f = base.slice();
      f[4096 + byte]! ^= 0x40;
      const [a, b] = slotsOf(f, 'f');
      const c = chooseHeader(a, b, 'f');
      expect(c.slot, `byte ${byte}`).toBe(0);
      if (b.status === 'bad-checksum') expect(c.note).toBe('Header 1 checksum failed, but header 0 ok. Proceeding.');
    }
  });

  // Property: a 512-byte header write torn after any number of bytes yields either the
  // complete new header or the previous slot's header, never a mixture.
  it('Property: a torn header write is never mistaken for a good header', () => {
    const [, s1] = slotsOf(base, 'f');
    const next: FtHeader = { ...s1.header!, checkpointCount: 3n, checkpointLsn: 99n, numrows: 77n, timeOfLastModification: 1795399999n };
    const sector = encodeFtHeaderSector(next);
    for (let k = 0; k <= 512; k++) {
      const f = base.slice();
      f.set(sector.subarray(0, k), 0);
      const [a, b] = slotsOf(f, 'f');
      const c = chooseHeader(a, b, 'f');
      if (k >= FT_HEADER_SIZE_V29) expect(c.header).toEqual(next);
      else expect(c.header, `torn at ${k}`).toEqual(s1.header);
    }
  });

  it('Scenario: both slots damaged gives a bad-header error naming file, slot offset and checksums', () => {
    const f = base.slice();
    f[100]! ^= 1;
    f[4096 + 100]! ^= 1;
    const [a, b] = slotsOf(f, 'dict.tokudb');
    let err: unknown;
    try {
      chooseHeader(a, b, 'dict.tokudb');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeaderError);
    const he = err as HeaderError;
    expect(he.kind).toBe('bad-header');
    expect(he.perconaCode).toBe(TOKUDB_BAD_CHECKSUM);
    expect(he.where.file).toBe('dict.tokudb');
    expect(he.where.offset).toBe(0);
    expect(he.where.expected).toBe(`0x${a.storedChecksum!.toString(16).padStart(8, '0')}`);
    expect(he.where.actual).toBe(`0x${a.computedChecksum!.toString(16).padStart(8, '0')}`);
    expect(he.message).toMatch(/both header checksums failed.*slot 0 \(offset 0\).*slot 1 \(offset 4096\)/);
  });

  it('Scenario: an empty file reports NO_HEADER for both slots', () => {
    const [a, b] = slotsOf(new Uint8Array(0), 'e');
    expect(() => chooseHeader(a, b, 'e')).toThrow(HeaderError);
    try {
      chooseHeader(a, b, 'e');
    } catch (e) {
      expect((e as HeaderError).perconaCode).toBe(TOKUDB_DICTIONARY_NO_HEADER);
    }
  });

  it('Scenario: two valid slots whose counts are not adjacent are refused, not trusted', () => {
    const f = base.slice();
    const [, s1] = slotsOf(f, 'f');
    f.set(encodeFtHeaderSector({ ...s1.header!, checkpointCount: 5n }), 0);
    const [a, b] = slotsOf(f, 'f');
    expect(() => chooseHeader(a, b, 'f')).toThrow(/do not differ by exactly 1/);
  });
});

describe('header encoding', () => {
  // Property: any header round-trips through its 197 bytes.
  it('Property: decode(encode(h)) === h for arbitrary field values', () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(fc.record({ a: i64, b: u64, c: u32, d: i64, e: u64, f: fc.integer({ min: 0, max: 255 }) }), (r) => {
        const h: FtHeader = { ...newFtHeader({ now: r.e }), checkpointCount: r.a, checkpointLsn: r.b, nodesize: r.c, numrows: r.d, maxMsnInFt: r.e, compressionMethod: r.f };
        const bytes = encodeFtHeader(h);
        expect(decodeFtHeaderFields(bytes, { file: 'x', offset: 0 })).toEqual(h);
        const s = validateHeaderSlot(encodeFtHeaderSector(h), 0, 'x');
        expect(s.status).toBe('ok');
      }),
      { numRuns: 200 },
    );
  });
});
