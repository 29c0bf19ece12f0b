// The benchmark's layout-29 writer (tools/bench/ft-layout29-writer.ts) makes files the
// decoder of src/ft/ reads back row for row: single leaves, several basement nodes and
// multi-level trees, with each compression method it writes.
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFtDictionary } from '../../src/ft/dictionary.js';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';
import { FtLayout29Writer, WRITER_COMPRESSION, type WriterCompression } from '../../tools/bench/ft-layout29-writer.js';

registerNodeCodecs();

const dir = mkdtempSync(join(tmpdir(), 'tokusim-ftwriter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Writes rows into a file (in memory first) and reads them back with the decoder. */
async function roundTrip(rows: Array<[Uint8Array, Uint8Array]>, opts: { compression: WriterCompression; nodeSize: number; basementNodeSize: number; fanout: number }) {
  let image = new Uint8Array(0);
  const w = new FtLayout29Writer({
    ...opts,
    sink: {
      pwrite: (bytes, offset) => {
        if (offset + bytes.length > image.length) {
          const bigger = new Uint8Array(offset + bytes.length);
          bigger.set(image);
          image = bigger;
        }
        image.set(bytes, offset);
      },
    },
  });
  for (const [k, v] of rows) w.add(k, v);
  const result = w.finish();
  const path = join(dir, `d${n++}.tokudb`);
  writeFileSync(path, image);
  const d = await openFtDictionary(new ReadOnlyStorage(new NodeStorage()), path);
  const got: Array<[Uint8Array, Uint8Array]> = [];
  try {
    for await (const r of d.committedRows()) got.push([Uint8Array.from(r.key), Uint8Array.from(r.value)]);
    const root = await d.readNode(d.rootBlocknum);
    return { got, result, rootHeight: root.height, header: d.header };
  } finally {
    await d.close();
  }
}

describe('layout-29 writer (bench and test only)', () => {
  // Property: any sorted set of rows round-trips through the writer and the decoder, with
  // each compression method and node sizes small enough to make trees several levels high.
  it('Property: written rows are decoded back exactly, in order', async () => {
    const methods = [WRITER_COMPRESSION.none, WRITER_COMPRESSION.zlib, WRITER_COMPRESSION.zlibWithoutChecksum];
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.uint8Array({ maxLength: 200 })), { selector: (r) => Buffer.from(r[0]).toString('hex'), maxLength: 300 }),
        fc.constantFrom(...methods),
        fc.integer({ min: 2, max: 5 }),
        async (rows, compression, fanout) => {
          rows.sort((a, b) => Buffer.compare(a[0], b[0]));
          const { got, result, header } = await roundTrip(rows, { compression, nodeSize: 2048, basementNodeSize: 512, fanout });
          expect(got).toEqual(rows);
          expect(result.rows).toBe(rows.length);
          expect(header.compressionMethod).toBe(compression);
        },
      ),
      { numRuns: 40 },
    );
  });

  // Scenario: 5000 rows in 1 KiB leaves with fanout 4 make a tree of height >= 3.
  it('Scenario: small nodes give a multi-level tree that reads back whole', async () => {
    const rows: Array<[Uint8Array, Uint8Array]> = [];
    for (let i = 0; i < 5000; i++) rows.push([Uint8Array.from(Buffer.from(`k${String(i).padStart(6, "0")}`)), Uint8Array.from(Buffer.from(`value ${i} `.repeat(1 + (i % 5))))]);
    const { got, result, rootHeight } = await roundTrip(rows, { compression: WRITER_COMPRESSION.zlib, nodeSize: 1024, basementNodeSize: 256, fanout: 4 });
    expect(rootHeight).toBe(result.height);
    expect(result.height).toBeGreaterThanOrEqual(3);
    expect(got.length).toBe(5000);
    expect(got).toEqual(rows);
  });
});
