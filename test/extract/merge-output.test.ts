// Properties of the pieces of extract that need no environment: the merge of a file's rows
// with the log's overlay, and the printer escaping of the TSV/JSON output.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeBytes } from '../../src/format/json.js';
import { mergeRowBatches, mergeRows, newMergeCounts, type ExtractRow, type RowOverlay } from '../../src/extract/merge.js';
import { OutputBuffer, byteEscapes, bytesJsonText, escapeToString } from '../../src/extract/output.js';

const key = (s: string): string => s;
async function* stream(rows: ExtractRow[]): AsyncGenerator<ExtractRow> {
  yield* rows;
}
async function collect(it: AsyncIterable<ExtractRow>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const r of it) out.push([Buffer.from(r.key).toString('latin1'), Buffer.from(r.value).toString('latin1')]);
  return out;
}
/**
 * rows as batches of the given sizes whose bytes live in one buffer, overwritten (with 0xee)
 * when the next batch is asked for, as a reader that reuses leaf memory hands them over.
 */
async function* reusedBatches(rows: ExtractRow[], sizes: number[]): AsyncGenerator<ExtractRow[]> {
  const mem = new Uint8Array(4096);
  let at = 0;
  let s = 0;
  while (at < rows.length) {
    const n = Math.max(1, sizes[s++ % Math.max(1, sizes.length)] ?? 1);
    mem.fill(0xee);
    let p = 0;
    const batch: ExtractRow[] = [];
    for (const r of rows.slice(at, at + n)) {
      mem.set(r.key, p);
      const key = mem.subarray(p, p + r.key.length);
      p += r.key.length;
      mem.set(r.value, p);
      batch.push({ key, value: mem.subarray(p, p + r.value.length) });
      p += r.value.length;
    }
    at += n;
    yield batch;
  }
}
/** The rows of a batched merge, copied as each batch arrives. */
async function collectBatches(it: AsyncIterable<ExtractRow[]>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const b of it) {
    expect(b.length).toBeGreaterThan(0);
    for (const r of b) out.push([Buffer.from(r.key).toString('latin1'), Buffer.from(r.value).toString('latin1')]);
  }
  return out;
}
const row = (k: string, v: string): ExtractRow => ({ key: Buffer.from(k, 'latin1'), value: Buffer.from(v, 'latin1') });
const bytes = (k: string): Uint8Array => Buffer.from(k, 'latin1');

describe('extract merge', () => {
  // Property: merging equals applying the overlay to a map of the file's rows (puts replace,
  // deletes remove, undetermined keys and, when older rows are undetermined, every untouched
  // file row are left out), listed in byte order; counts add up.
  it('Property: the merge is the overlay applied to the file rows, in key order', async () => {
    const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\u0000', '\u00ff'), maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(keyArb, fc.string({ maxLength: 3 })), { selector: (x) => x[0], maxLength: 30 }),
        fc.uniqueArray(fc.tuple(keyArb, fc.constantFrom('put', 'del', 'und'), fc.string({ maxLength: 3 })), { selector: (x) => x[0], maxLength: 30 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 8 }),
        async (fileRows, ops, older, batchSizes) => {
          const sortRows = <T extends [string, ...unknown[]]>(xs: T[]): T[] => [...xs].sort((x, y) => Buffer.compare(bytes(x[0]), bytes(y[0])));
          const file = sortRows(fileRows).map(([k, v]) => row(k, v));
          const overlay: RowOverlay = {
            rows: sortRows(ops.filter((o) => o[1] === 'put')).map(([k, , v]) => row(k, v)),
            deletedKeys: ops.filter((o) => o[1] === 'del').map((o) => bytes(o[0])),
            undeterminedKeys: ops.filter((o) => o[1] === 'und').map((o) => bytes(o[0])),
            olderRowsUndetermined: older,
          };
          const expected = new Map<string, string>();
          for (const [k, v] of fileRows) if (!older) expected.set(key(k), v);
          for (const [k, op, v] of ops) {
            if (op === 'put') expected.set(k, v);
            else expected.delete(k);
          }
          const counts = newMergeCounts();
          const got = await collect(mergeRows(stream(file), overlay, counts));
          expect(got).toEqual(sortRows([...expected.entries()]));
          expect(counts.fromFile + counts.fromLog).toBe(got.length);
          expect(counts.outOfOrder).toBe(false);
          // The batched merge, its file rows in memory reused from batch to batch, gives the same.
          const batchCounts = newMergeCounts();
          expect(await collectBatches(mergeRowBatches(reusedBatches(file, batchSizes), overlay, batchCounts))).toEqual(got);
          expect(batchCounts).toEqual(counts);
        },
      ),
      { numRuns: 300 },
    );
  });

  // Scenario: a file whose rows are not in byte order (an application comparator) loses and
  // duplicates nothing; the log's new rows follow and the counts say the order was broken.
  it('Scenario: file rows out of byte order are merged without loss or duplicates', async () => {
    const counts = newMergeCounts();
    const got = await collect(
      mergeRows(stream([row('b', '1'), row('a', '2'), row('c', '3')]), { rows: [row('a', 'log'), row('bb', 'new')], deletedKeys: [bytes('c')], undeterminedKeys: [], olderRowsUndetermined: false }, counts),
    );
    expect(got).toEqual([['a', 'log'], ['b', '1'], ['bb', 'new']]);
    expect(counts).toEqual({ fromFile: 1, fromLog: 2, deletedByLog: 1, withheld: 0, outOfOrder: true });
    // Batched, with the order broken across a batch boundary in reused memory: the same.
    for (const sizes of [[1], [2], [3]]) {
      const batchCounts = newMergeCounts();
      const batched = await collectBatches(
        mergeRowBatches(reusedBatches([row('b', '1'), row('a', '2'), row('c', '3')], sizes), { rows: [row('a', 'log'), row('bb', 'new')], deletedKeys: [bytes('c')], undeterminedKeys: [], olderRowsUndetermined: false }, batchCounts),
      );
      expect(batched).toEqual(got);
      expect(batchCounts).toEqual(counts);
    }
  });
});

describe('extract output escaping', () => {
  // Property: the TSV escaping is byte for byte the printer's (escapeBytes), for every byte value.
  it('Property: OutputBuffer.escaped and escapeToString equal escapeBytes', async () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(escapeToString(all)).toBe(escapeBytes(all));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (b) => {
        const chunks: Uint8Array[] = [];
        const out = new OutputBuffer((c) => void chunks.push(Buffer.from(c)), 64);
        out.escaped(b);
        out.byte(0x0a);
        await out.flush();
        expect(Buffer.concat(chunks).toString('latin1')).toBe(escapeBytes(b) + '\n');
        expect(escapeToString(b)).toBe(escapeBytes(b));
        const j = JSON.parse(bytesJsonText(b)) as { len: number; text: string; hex: string };
        expect(j).toEqual({ len: b.length, text: escapeBytes(b), hex: Buffer.from(b).toString('hex') });
      }),
      { numRuns: 500 },
    );
  });

  // Property: the writer's number, short-text, byte and custom-escape paths give the same
  // text as String(n), the string itself and the table's escapes, across buffer growth.
  it('Property: OutputBuffer.uint, ascii, bytes and escaped with a table equal their string forms', async () => {
    const octal = byteEscapes((c) => (c >= 0x61 && c <= 0x7a ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`));
    const octalText = (b: Uint8Array): string => Array.from(b, (c) => (c >= 0x61 && c <= 0x7a ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`)).join('');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(0, 9, 10, 99, 100, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
        fc.uint8Array({ maxLength: 60 }),
        async (n, text, b) => {
          const chunks: Uint8Array[] = [];
          const out = new OutputBuffer((c) => void chunks.push(Buffer.from(c)), 16);
          out.uint(n);
          out.ascii(text);
          out.bytes(b);
          out.escaped(b, octal);
          await out.flush();
          expect(Buffer.concat(chunks).toString('latin1')).toBe(String(n) + text + Buffer.from(b).toString('latin1') + octalText(b));
        },
      ),
      { numRuns: 500 },
    );
  });

  // Scenario: a long output goes through two buffers in turn (memory does not grow with the
  // output), and each chunk holds the right bytes while its consumer has it.
  it('Scenario: OutputBuffer hands over two buffers in turn, each intact until its flush settles', async () => {
    const seen: ArrayBufferLike[] = [];
    const text: string[] = [];
    const out = new OutputBuffer(async (c) => {
      seen.push(c.buffer);
      const before = Buffer.from(c).toString('latin1');
      await new Promise((r) => setTimeout(r, 1));
      text.push(Buffer.from(c).toString('latin1'));
      expect(text[text.length - 1]).toBe(before);
    }, 8192); // large enough not to come from Buffer's shared small-allocation pool
    let want = '';
    for (let i = 0; i < 40; i++) {
      const line = `row ${i} ${'x'.repeat(500 + i)}\n`;
      want += line;
      out.ascii(line);
      if (out.full) await out.flush();
    }
    await out.flush();
    expect(text.join('')).toBe(want);
    expect(seen.length).toBeGreaterThan(4);
    expect(new Set(seen).size).toBe(2);
  });
});
