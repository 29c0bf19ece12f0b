// Scenario: reading a dictionary's rows in batches with one reused leaf memory (what extract
// does, so that memory does not grow with the environment) gives the same rows as
// committedRows, on real PerconaFT dictionaries with buffered messages and provisional
// entries, and every leaf of several dictionaries is read into the same buffer.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LeafMemory, openFtDictionary, type RowOptions } from '../../src/ft/dictionary.js';
import { escapeBytes } from '../../src/format/json.js';
import { registerNodeCodecs } from '../../src/ft/node-codecs.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { ReadOnlyStorage } from '../../src/storage/read-only-storage.js';

registerNodeCodecs();

const S8 = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft', 'S8_node_formats', 'dicts');
const DICTS = ['none_db_2_1_1d', 'zlib_db_2_3_1d', 'quicklz_db_2_5_1d'];
const storage = new ReadOnlyStorage(new NodeStorage());

/** The rows of committedRows, as text. */
async function rowsText(name: string, opts: RowOptions = {}): Promise<string> {
  const d = await openFtDictionary(storage, join(S8, `${name}.tokudb`));
  let out = '';
  try {
    for await (const r of d.committedRows(opts)) out += `${escapeBytes(r.key)}\t${escapeBytes(r.value)}\n`;
  } finally {
    await d.close();
  }
  return out;
}

describe('FtDictionary: batches in reused leaf memory', () => {
  it('Scenario: S8 dictionaries read in batches through one LeafMemory give committedRows\' rows, all leaves in one buffer', async () => {
    const memory = new LeafMemory();
    const buffers = new Set<ArrayBufferLike>();
    let batches = 0;
    let uncompressedLeaves = 0;
    // A transaction taken as not committed, so provisional entries are resolved both ways.
    const committed = (xid: bigint): boolean => xid < 0x49n || xid > 0x4dn;
    for (const name of DICTS) {
      const d = await openFtDictionary(storage, join(S8, `${name}.tokudb`));
      let text = '';
      const leftOut: string[] = [];
      try {
        for await (const batch of d.committedRowBatches({ leafMemory: memory, committed, onLeftOut: (xids, key) => leftOut.push(`${xids.join(',')}:${escapeBytes(key)}`) })) {
          expect(batch.length).toBeGreaterThan(0);
          batches++;
          // Text made now: the bytes are valid until the next batch is asked for.
          for (const r of batch) {
            text += `${escapeBytes(r.key)}\t${escapeBytes(r.value)}\n`;
            if (name.startsWith('none')) buffers.add(r.key.buffer);
          }
        }
        if (name.startsWith('none')) {
          for (const b of d.nodeBlocknums()) {
            const any = await d.readAnyNode(b);
            if (any.kind === 'ft' && any.node.height === 0 && any.node.basements.some((bn) => bn.entries.length > 0)) uncompressedLeaves++;
          }
        }
      } finally {
        await d.close();
      }
      const plainLeftOut: string[] = [];
      expect(text).toBe(await rowsText(name, { committed, onLeftOut: (xids, key) => plainLeftOut.push(`${xids.join(',')}:${escapeBytes(key)}`) }));
      expect(text.split('\n').length).toBeGreaterThan(1000);
      expect(leftOut).toEqual(plainLeftOut);
      expect(leftOut.length).toBeGreaterThan(0);
    }
    expect(batches).toBeGreaterThan(DICTS.length * 2);
    // Uncompressed leaves are read in place: the rows of all of them point into the one
    // reused buffer (compressed partitions decompress into their own memory).
    expect(uncompressedLeaves).toBeGreaterThan(2);
    expect(buffers.size).toBe(1);
  });
});
