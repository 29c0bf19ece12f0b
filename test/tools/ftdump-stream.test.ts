// Scenario: `tokusim ftdump`'s no-option dump handed over in chunks as it is made (as the CLI and the
// extract benchmark do, so that memory stays flat) is the same text as the dump returned
// whole, on a real multi-level dictionary, on a damaged copy (the text up to the damage), and
// the whole dump is handed over in more than one part; MVCC stacks with placeholders print as
// tokuftdump's print_klpair does.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFtDictionary } from '../../src/ft/dictionary.js';
import { XR_DELETE, XR_INSERT, XR_PLACEHOLDER } from '../../src/ft/leafentry.js';
import { FtLayout29Writer, MemorySink } from '../../tools/bench/ft-layout29-writer.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { runFtdump } from '../../tools/commands/ftdump.js';

const S8 = join(import.meta.dirname, '..', '..', 'fixtures', 'perconaft', 'S8_node_formats', 'dicts');
const dir = mkdtempSync(join(tmpdir(), 'tokusim-ftdump-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Dumps file whole and streamed; returns both texts, the streamed parts count and both results. */
async function both(file: string) {
  const whole = await runFtdump({ file });
  const parts: string[] = [];
  // A chunk's memory is reused once write returns: keep a copy.
  const streamed = await runFtdump({ file }, { write: (c) => void parts.push(Buffer.from(c).toString('latin1')) });
  return { whole, streamed, text: parts.join('') + streamed.stdout, parts: parts.length };
}

describe('ftdump: streamed full dump', () => {
  it('Scenario: the streamed dump of a height-2 zlib dictionary equals the whole dump', async () => {
    const r = await both(join(S8, 'zlib_db_2_3_1d.tokudb'));
    expect(r.whole.code).toBe(0);
    expect(r.streamed.code).toBe(0);
    expect(r.parts).toBeGreaterThan(2);
    // Node "io time" lines carry measured times: compare with the numbers masked.
    const mask = (s: string): string => s.replace(/io time [^\n]*/g, 'io time #');
    expect(mask(r.text)).toBe(mask(r.whole.stdout));
  });

  it('Scenario: on a damaged node both stop at the same place with the same error line', async () => {
    const src = join(S8, 'none_db_2_1_1d.tokudb');
    const d = await openFtDictionary(new NodeStorage(), src);
    const blocknums = d.nodeBlocknums();
    // The middle of a block in the second half of blocknum order: earlier nodes print first.
    const loc = d.blockLocation(blocknums[Math.floor(blocknums.length * 0.75)]!)!;
    await d.close();
    const bytes = readFileSync(src);
    bytes[loc.diskOffset + Math.floor(loc.size / 2)] ^= 0xff;
    const file = join(dir, 'damaged.tokudb');
    writeFileSync(file, bytes);
    const r = await both(file);
    expect(r.whole.code).not.toBe(0);
    expect(r.parts).toBeGreaterThan(1);
    expect(r.streamed.code).toBe(r.whole.code);
    expect(r.streamed.stderr).toBe(r.whole.stderr);
    const mask = (s: string): string => s.replace(/io time [^\n]*/g, 'io time #');
    expect(mask(r.text)).toBe(mask(r.whole.stdout));
  });

  it('Scenario: leaf entries with a placeholder and provisional records print as print_klpair does, streamed or not', async () => {
    const sink = new MemorySink();
    const w = new FtLayout29Writer({ sink });
    const b = (t: string): Uint8Array => Buffer.from(t, 'latin1');
    w.addEntry(b('a'), {
      nc: 1,
      uxrs: [
        { type: XR_INSERT, xid: 0n, value: b('v\n0') },
        { type: XR_PLACEHOLDER, xid: 0x10n },
        { type: XR_INSERT, xid: 0x11n, value: b('q"\\') },
      ],
    });
    w.addEntry(b('b'), { nc: 1, uxrs: [{ type: XR_INSERT, xid: 0n, value: b('w') }, { type: XR_DELETE, xid: 0x12n }] });
    w.finish();
    const file = join(dir, 'mvcc.tokudb');
    writeFileSync(file, sink.image);
    const r = await both(file);
    expect(r.whole.code).toBe(0);
    const lines = r.whole.stdout.split('\n');
    const at = lines.findIndex((l) => /^  child 0:  n_bytes_in_buffer= \d+ items_in_buffer=2$/.test(l));
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 3)).toEqual([
      '0: {key={len=1 data="a"} cI: xid=0000000000000000 val={len=3 data="v\\n0"} P: xid=0000000000000010 pI: xid=0000000000000011 val={len=3 data="q\\"\\\\"}}',
      '1: {key={len=1 data="b"} cI: xid=0000000000000000 val={len=1 data="w"} pD: xid=0000000000000012}',
    ]);
    const mask = (s: string): string => s.replace(/io time [^\n]*/g, 'io time #');
    expect(mask(r.text)).toBe(mask(r.whole.stdout));
  });
});
