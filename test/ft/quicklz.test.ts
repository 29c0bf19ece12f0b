import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decompressQuickLz } from '../../src/ft/quicklz.js';
import { decompressSubBlock, COMPRESSION } from '../../src/ft/compression.js';
import { TokusimError } from '../../src/base/errors.js';

/**
 * A test-only QuickLZ level-3 compressor, written from the format facts in src/ft/quicklz.ts:
 * greedy matching, with the back-reference form picked by `pick` among the forms that can hold
 * the match, so every form (and overlapping copies) gets exercised.
 */
function compress(data: Uint8Array, pick: (n: number) => number, opts: { stored?: boolean; longHeader?: boolean } = {}): Uint8Array {
  const size = data.length;
  const body: number[] = [];
  if (opts.stored) {
    body.push(...data);
  } else {
    let cwordAt = -1;
    let flags = 0;
    let count = 0;
    const flush = () => {
      if (cwordAt < 0) return;
      const v = (flags | (2 ** count)) >>> 0;
      body[cwordAt] = v & 0xff;
      body[cwordAt + 1] = (v >>> 8) & 0xff;
      body[cwordAt + 2] = (v >>> 16) & 0xff;
      body[cwordAt + 3] = (v >>> 24) & 0xff;
    };
    const item = (isMatch: boolean, bytes: number[]) => {
      if (cwordAt < 0 || count === 31) {
        flush();
        cwordAt = body.length;
        body.push(0, 0, 0, 0);
        flags = 0;
        count = 0;
      }
      if (isMatch) flags = (flags | (1 << count)) >>> 0;
      count++;
      body.push(...bytes);
    };
    const last = new Map<number, number[]>();
    let pos = 0;
    while (pos < size) {
      let best = { len: 0, offset: 0 };
      if (pos < size - 11) {
        const h = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
        for (const cand of last.get(h) ?? []) {
          const offset = pos - cand;
          if (offset < 1 || offset > 0x1ffff) continue;
          let len = 0;
          while (len < 258 && pos + len < size - 1 && data[cand + len] === data[pos + len]) len++;
          if (len >= 3 && len > best.len) best = { len, offset };
        }
        // Also try a run (offset 1 or 2) so overlapping copies appear.
        for (const offset of [1, 2]) {
          if (pos < offset) continue;
          let len = 0;
          while (len < 258 && pos + len < size - 1 && data[pos - offset + len] === data[pos + len]) len++;
          if (len >= 3 && len > best.len) best = { len, offset };
        }
      }
      if (best.len >= 3) {
        const { offset } = best;
        const forms: Array<() => number[]> = [];
        if (best.len === 3 && offset < 64) forms.push(() => [offset << 2]);
        if (best.len === 3 && offset < 16384) forms.push(() => { const v = (offset << 2) | 1; return [v & 0xff, v >>> 8]; });
        if (offset < 1024) forms.push(() => { const len = Math.min(best.len, 18); best.len = len; const v = (offset << 6) | ((len - 3) << 2) | 2; return [v & 0xff, (v >>> 8) & 0xff]; });
        forms.push(() => { const len = Math.min(best.len, 33); best.len = len; const v = ((offset << 7) | ((len - 2) << 2) | 3) >>> 0; return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff]; });
        forms.push(() => { const len = best.len; const v = ((offset * 32768) + ((len - 3) << 7) + 3) >>> 0; return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; });
        const bytes = forms[pick(forms.length)]!();
        item(true, bytes);
        for (let i = 0; i < best.len; i++) {
          const p = pos + i;
          if (p + 2 < size) {
            const h = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16);
            last.set(h, [p, ...(last.get(h) ?? [])].slice(0, 4));
          }
        }
        pos += best.len;
      } else {
        if (pos + 2 < size) {
          const h = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
          last.set(h, [pos, ...(last.get(h) ?? [])].slice(0, 4));
        }
        item(false, [data[pos]!]);
        pos++;
      }
    }
    flush();
  }
  const long = opts.longHeader || size > 255 || body.length + 3 > 255;
  const headerSize = long ? 9 : 3;
  const total = headerSize + body.length;
  const flag = (opts.stored ? 0 : 1) | (long ? 2 : 0) | (3 << 2) | (1 << 6);
  const header = long ? [flag, total & 0xff, (total >>> 8) & 0xff, (total >>> 16) & 0xff, total >>> 24, size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff, size >>> 24] : [flag, total, size];
  return Uint8Array.from([...header, ...body]);
}

const payload = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 3000 }),
  // Repetitive data, so long and overlapping back-references occur.
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 400 }), fc.uint8Array({ maxLength: 30 })).map(([w, n, tail]) => {
    const out = new Uint8Array(w.length * n + tail.length);
    for (let i = 0; i < n; i++) out.set(w, i * w.length);
    out.set(tail, w.length * n);
    return out;
  }),
  fc.array(fc.constantFrom('alpha ', 'bravo ', 'back\\slash ', '"quote" ', '12345 '), { minLength: 1, maxLength: 600 }).map((ws) => new TextEncoder().encode(ws.join(''))),
);

describe('QuickLZ level-3 decompressor', () => {
  // Property: whatever the data and whichever back-reference forms and header width the
  // compressor picks, decompressing gives the data back.
  it('Property: round trip through a test-only compressor', () => {
    fc.assert(
      fc.property(payload, fc.infiniteStream(fc.nat()), fc.boolean(), fc.boolean(), (data, choices, longHeader, stored) => {
        const it = choices[Symbol.iterator]();
        const stream = compress(data, (n) => (it.next().value as number) % n, { longHeader, stored });
        expect(Array.from(decompressQuickLz(stream, data.length))).toEqual(Array.from(data));
        // Through the sub-block registry with PerconaFT's method byte (9 + level 3 << 4).
        const sub = Uint8Array.from([COMPRESSION.quicklz | (3 << 4), ...stream]);
        expect(Array.from(decompressSubBlock(sub, data.length, { file: 'f', blocknum: 3n, offset: 0, what: 'test' }))).toEqual(Array.from(data));
      }),
      { numRuns: 300 },
    );
  });

  // Property: a damaged stream either decompresses (to something of the stated size) or gives
  // one clear error; never an exception of another kind, never a read or write out of bounds.
  it('Property: truncated or bit-flipped streams give a bad-node error or the right size, nothing else', () => {
    fc.assert(
      fc.property(payload, fc.nat(), fc.nat(), fc.boolean(), (data, at, bit, truncate) => {
        const stream = compress(data, () => 0);
        const bad = truncate ? stream.subarray(0, at % stream.length) : stream.slice();
        if (!truncate) bad[at % bad.length]! ^= 1 << (bit % 8);
        const sub = Uint8Array.from([COMPRESSION.quicklz, ...bad]);
        try {
          const out = decompressSubBlock(sub, data.length, { file: 'f', blocknum: 7n, offset: 100, what: 'partition 0' });
          expect(out.length).toBe(data.length);
        } catch (err) {
          expect(err).toBeInstanceOf(TokusimError);
          expect((err as TokusimError).kind).toBe('bad-node');
          expect((err as TokusimError).message).toMatch(/^f, blocknum 7, offset 100: partition 0: /);
        }
      }),
      { numRuns: 500 },
    );
  });

  // Scenario: the test compressor really uses back-references (else the round trip proves little).
  it('Scenario: repetitive text compresses to under a quarter and still round-trips, with every form', () => {
    const data = new TextEncoder().encode('alpha bravo back\\slash '.repeat(200));
    for (let form = 0; form < 5; form++) {
      const stream = compress(data, (n) => Math.min(form, n - 1));
      expect(stream.length).toBeLessThan(data.length / 4);
      expect(Array.from(decompressQuickLz(stream, data.length))).toEqual(Array.from(data));
    }
  });

  // Scenario: a size mismatch between the QuickLZ header and the sub-block header is refused.
  it('Scenario: the header size must match the size the sub-block promises', () => {
    const data = new TextEncoder().encode('alpha bravo alpha bravo alpha bravo alpha bravo');
    const stream = compress(data, () => 0);
    expect(() => decompressQuickLz(stream, data.length + 1)).toThrow(/header says 47 bytes, the sub-block says 48/);
  });
});
