import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DictionaryFile } from '../../src/blocks/dictionary-file.js';
import { TokusimError } from '../../src/base/errors.js';
import { x1764 } from '../../src/format/x1764.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { exitCodeFor } from '../../tools/cli-support.js';
import { runFtdump } from '../../tools/commands/ftdump.js';
import { referenceDicts } from '../format/ft-fixtures-helper.js';

// Damage whose checksum still holds: each case changes one field of a real PerconaFT dictionary
// and re-computes the checksum over it, so only the readers' bounds checks can catch it.

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const getU64 = (b: Uint8Array, o: number) => (BigInt(dv(b).getUint32(o, true)) << 32n) | BigInt(dv(b).getUint32(o + 4, true));
const setU64 = (b: Uint8Array, o: number, v: bigint) => {
  const x = BigInt.asUintN(64, v);
  dv(b).setUint32(o, Number(x >> 32n), true);
  dv(b).setUint32(o + 4, Number(x & 0xffffffffn), true);
};
/** Re-compute the x1764 of the 197-byte header in the slot at `off`. */
const fixHeader = (b: Uint8Array, off: number) => dv(b).setUint32(off + 193, x1764(b, off, off + 193), true);

function newestSlot(b: Uint8Array): number {
  return getU64(b, 28) > getU64(b, 4096 + 28) ? 0 : 4096;
}

/** Set a header field in both slots (so neither is a fallback), checksums re-computed. */
function setHeaderField(b: Uint8Array, rel: number, v: bigint): void {
  for (const off of [0, 4096]) {
    setU64(b, off + rel, v);
    fixHeader(b, off);
  }
}

/** Change a u64 of the chosen BTT at byte `rel` of it, checksum re-computed. */
function setBttWord(b: Uint8Array, rel: number, v: bigint): void {
  const slot = newestSlot(b);
  const loc = Number(getU64(b, slot + 48));
  const size = Number(getU64(b, slot + 56));
  setU64(b, loc + rel, v);
  dv(b).setUint32(loc + size - 4, x1764(b, loc, loc + size - 4), true);
}

const source = referenceDicts().find((d) => d.run === 'S1_basic' && d.name === 'alpha_db_2_1_1d.tokudb')!;

async function withDamaged(damage: (b: Uint8Array) => void, check: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tokusim-hostile-dict-'));
  try {
    const b = new Uint8Array(readFileSync(source.path));
    damage(b);
    const path = join(dir, 'damaged.tokudb');
    writeFileSync(path, b);
    await check(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function openError(path: string): Promise<TokusimError> {
  const err = await DictionaryFile.open(new NodeStorage(), path, { mode: 'read' }).then(
    async (o) => {
      await o.file.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokusimError);
  return err as TokusimError;
}

describe('dictionary readers on damage whose checksum still holds', () => {
  for (const size of [0x7fffffffn, 0x80000000n, 0xffffffffn]) {
    // Scenario: translation_size claims gigabytes; the reader must refuse it from the file size
    // before allocating or reading (it used to read what the file claimed and abort natively).
    it(`Scenario: translation_size ${size} is corrupt input naming the field and its offset, nothing read`, async () => {
      await withDamaged((b) => setHeaderField(b, 56, size), async (path) => {
        const err = await openError(path);
        expect(exitCodeFor(err)).toBe(3);
        expect(err.message).toContain('translation_size out of range');
        expect(err.where.file).toBe(path);
        expect([56, 4096 + 56]).toContain(err.where.offset);
        expect(err.where.actual).toBe(String(size));
        const r = await runFtdump({ file: path, header: true });
        expect(r.code).toBe(1);
        expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
        expect(r.stderr).toMatch(/can not deserialize from .* error -22: .*translation_size out of range/);
      });
    });
  }

  // Scenario: translation_location 2^63-1 is damage in the file, not an I/O error (it used to
  // reach pread and come back as EINVAL, exit 5).
  it('Scenario: translation_location 2^63-1 is corrupt input (exit 3), not an I/O error', async () => {
    await withDamaged((b) => setHeaderField(b, 48, (1n << 63n) - 1n), async (path) => {
      const err = await openError(path);
      expect(err.kind).not.toBe('io');
      expect(exitCodeFor(err)).toBe(3);
      expect(err.message).toContain('translation_location lies outside the file');
      expect([48, 4096 + 48]).toContain(err.where.offset);
    });
  });

  const bttCases: Array<[string, number, bigint, RegExp]> = [
    ['entry 0 size', 16 + 8, 1n << 53n, /entry 0 is not \(-2, 0\)/],
    ['freelist head beyond N', 8, 16897n, /free list entry 16897 lies outside/],
    ['entry 3 diskoff past the end of the file', 16 + 16 * 3, 1n << 40n, /entry 3 points past the end of the file/],
    ['entry 3 diskoff unaligned', 16 + 16 * 3, 8193n, /entry 3 has an invalid disk offset/],
    ['entry 3 size -7', 16 + 16 * 3 + 8, -7n, /entry 3 has an invalid size/],
  ];
  for (const [name, rel, v, why] of bttCases) {
    // Scenario: a BTT entry that passes the checksum but breaks the translation's rules is a
    // corrupt-input error naming the entry (it used to fail an internal invariant, exit 1).
    it(`Scenario: BTT ${name} is corrupt input naming the entry, not an internal error`, async () => {
      await withDamaged((b) => setBttWord(b, rel, v), async (path) => {
        const err = await openError(path);
        expect(err.kind).toBe('bad-btt');
        expect(exitCodeFor(err)).toBe(3);
        expect(err.message).toMatch(why);
        expect(err.where.file).toBe(path);
        const r = await runFtdump({ file: path, 'translation-table': true });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^tokusim: can not deserialize from .* error -?\d+: .*translation table/);
      });
    });
  }

  // Scenario: the fixture itself still opens (the checks accept every real PerconaFT BTT).
  it('Scenario: the undamaged reference dictionary opens', async () => {
    await withDamaged(() => undefined, async (path) => {
      const o = await DictionaryFile.open(new NodeStorage(), path, { mode: 'read' });
      expect(o.file.blockTable.smallestNeverUsed).toBeGreaterThan(3n);
      await o.file.close();
    });
  });
});
