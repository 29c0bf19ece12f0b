// The benchmark's layout-29 writer (tools/bench/ft-layout29-writer.ts) makes files the
// decoder of src/ft/ reads back row for row: single leaves, several basement nodes and
// multi-level trees, with each compression method it writes.
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFtDictionary } from '../../src/ft/dictionary.js';
import { XR_DELETE, XR_INSERT, XR_PLACEHOLDER, type Ule, type Uxr } from '../../src/ft/leafentry.js';
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
  const { path, result } = writeFile(opts, (w) => {
    for (const [k, v] of rows) w.add(k, v);
  });
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

/** Runs `fill` on a writer whose bytes go to a new file; returns the file's path. */
function writeFile(opts: { compression: WriterCompression; nodeSize: number; basementNodeSize: number; fanout: number }, fill: (w: FtLayout29Writer) => void) {
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
  fill(w);
  const result = w.finish();
  const path = join(dir, `d${n++}.tokudb`);
  writeFileSync(path, image);
  return { path, result };
}

/** Any stack PerconaFT stores: committed records (the first with xid 0), then 0..5 provisional levels, at least one insert somewhere. */
const arbStack = fc
  .record({
    committed: fc.array(fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }), { minLength: 1, maxLength: 4 }),
    provisional: fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constant(null), fc.constant('placeholder' as const)), { maxLength: 5 }),
    inner: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
    xidBase: fc.bigInt({ min: 1n, max: (1n << 63n) - 100n }),
  })
  .map(({ committed, provisional, inner, xidBase }): Ule => {
    const rec = (xid: bigint, v: Uint8Array | null): Uxr => (v === null ? { type: XR_DELETE, xid } : { type: XR_INSERT, xid, value: v });
    const uxrs = committed.map((v, i) => rec(i === 0 ? 0n : xidBase + BigInt(i), v));
    // Middle levels may be placeholders; the innermost one never is.
    provisional.forEach((v, i) => uxrs.push(v === 'placeholder' ? { type: XR_PLACEHOLDER, xid: xidBase + 10n + BigInt(i) } : rec(xidBase + 10n + BigInt(i), v)));
    if (provisional.length > 0) uxrs.push(rec(xidBase + 50n, inner));
    if (!uxrs.some((r) => r.type === XR_INSERT)) uxrs[0] = { type: XR_INSERT, xid: 0n, value: new Uint8Array(0) };
    return { uxrs, nc: committed.length };
  });

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

  // Property: any MVCC stacks (nested provisional levels with placeholders, several
  // committed records, deletes) are decoded back record for record, in key order, whatever
  // basement and leaf they land in.
  it('Property: written MVCC stacks are unpacked back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 10 }), arbStack), { selector: (r) => Buffer.from(r[0]).toString('hex'), minLength: 1, maxLength: 60 }),
        fc.constantFrom(WRITER_COMPRESSION.none, WRITER_COMPRESSION.zlib),
        async (entries, compression) => {
          entries.sort((a, b) => Buffer.compare(a[0], b[0]));
          const { path } = writeFile({ compression, nodeSize: 1024, basementNodeSize: 256, fanout: 3 }, (w) => {
            for (const [k, u] of entries) w.addEntry(k, u);
          });
          const d = await openFtDictionary(new ReadOnlyStorage(new NodeStorage()), path);
          const got: Array<[Uint8Array, Ule]> = [];
          try {
            for (const b of d.nodeBlocknums()) {
              const any = await d.readAnyNode(b);
              if (any.kind !== 'ft' || any.node.height !== 0) continue;
              for (const bn of any.node.basements) for (const e of bn.entries) got.push([Uint8Array.from(e.key), e.ule]);
            }
          } finally {
            await d.close();
          }
          const norm = (u: Ule) => ({ nc: u.nc, uxrs: u.uxrs.map((r) => ({ type: r.type, xid: r.xid, value: r.type === XR_INSERT ? Buffer.from(r.value!).toString('hex') : undefined })) });
          expect(got.map(([k, u]) => [Buffer.from(k).toString('hex'), norm(u)])).toEqual(entries.map(([k, u]) => [Buffer.from(k).toString('hex'), norm(u)]));
        },
      ),
      { numRuns: 60 },
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
