import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LogPrinter, formatEntryBytes, formatRecord, printLog } from '../../src/format/printer.js';
import { atoi, main } from '../../tools/tdb-logprint.js';
import { edgeCases, fixtureLogs, readOrEmpty } from './fixture-logs.js';

class Sink extends Writable {
  parts: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.parts.push(Buffer.from(chunk));
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Run tdb-logprint's main in-process on the given stdin bytes, fed in chunks of `chunk`. */
async function run(args: string[], input: Buffer, chunk = 1 << 16): Promise<{ stdout: Buffer; stderr: Buffer; code: number }> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) pieces.push(input.subarray(i, i + chunk));
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(args, Readable.from(pieces), stdout, stderr);
  return { stdout: stdout.bytes, stderr: stderr.bytes, code };
}

describe('tdb-logprint against every reference log', () => {
  for (const log of fixtureLogs()) {
    it(`Scenario: printing ${log.name} gives the real tool's stdout, stderr and exit code`, async () => {
      const r = await run([], readFileSync(log.path));
      expect(r.stdout.toString('latin1')).toBe(readFileSync(log.stdoutPath, 'latin1'));
      expect(r.stderr.toString('latin1')).toBe(readOrEmpty(log.stderrPath).toString('latin1'));
      expect(r.code).toBe(log.exitCode);
    });
  }
});

describe('tdb-logprint against every printer edge case', () => {
  for (const c of edgeCases()) {
    it(`Scenario: edge case ${c.name} (args ${JSON.stringify(c.args)}) matches byte for byte`, async () => {
      const input = c.stdinPath === '/dev/null' ? Buffer.alloc(0) : readFileSync(c.stdinPath);
      for (const chunk of [1 << 16, 7, 1]) {
        const r = await run(c.args, input, chunk);
        expect(r.stdout.equals(c.stdout), `stdout with chunk ${chunk}`).toBe(true);
        expect(r.stderr.toString('latin1')).toBe(c.stderr.toString('latin1'));
        expect(r.code).toBe(c.exitCode);
      }
    });
  }
});

describe('spec Appendix A/B golden file', () => {
  const spec = readFileSync(new URL('./golden-appendix.txt', import.meta.url), 'latin1');
  const [hexPart, expected] = spec.split('\n==== expected ====\n') as [string, string];
  const bytes = Buffer.from(hexPart.replace(/\s+/g, ''), 'hex');

  it('Scenario: the 1676-byte golden file prints exactly the expected text of all 27 types', () => {
    expect(bytes.length).toBe(1676);
    const { stdout, result } = printLog(bytes);
    expect(Buffer.from(stdout).toString('latin1')).toBe(expected);
    expect(result.exitCode).toBe(0);
    expect(result.records).toBe(31);
  });
});

describe('printer details', () => {
  it('Scenario: formatRecord prints the spec §5.1 line', () => {
    expect(formatRecord({ type: 'begin_checkpoint', lsn: 88n, timestamp: 1455623796540257n, last_xid: 153n })).toBe(
      "begin_checkpoint         'x': lsn=88 timestamp=1455623796540257 last_xid=153 crc=470dd9ea len=37",
    );
  });

  it('Scenario: 64-bit extremes print signed for uint64_t/BLOCKNUM and unsigned for LSN/TXNID', () => {
    const line = formatRecord({
      type: 'xstillopen', lsn: (1n << 64n) - 1n, xid: { parent: (1n << 64n) - 1n, child: 1n << 63n },
      parentxid: { parent: 0n, child: 0n }, rollentry_raw_count: 1n << 63n, open_filenums: [0, 0xffffffff],
      force_fsync_on_commit: 0x27, num_rollback_nodes: (1n << 53n) + 1n, num_rollentries: 0n,
      spilled_rollback_head: -1n, spilled_rollback_tail: -(1n << 63n), current_rollback: (1n << 63n) - 1n,
    });
    expect(line).toContain(' lsn=18446744073709551615 xid=18446744073709551615,9223372036854775808 ');
    expect(line).toContain(' rollentry_raw_count=-9223372036854775808 ');
    expect(line).toContain(' open_filenums={num=2 filenums="0x0,0xffffffff"} force_fsync_on_commit=39(\'\'\') ');
    expect(line).toContain(' num_rollback_nodes=9007199254740993 num_rollentries=0 ');
    expect(line).toContain(' spilled_rollback_head=-1 spilled_rollback_tail=-9223372036854775808 current_rollback=9223372036854775807 ');
  });

  it('Scenario: every byte value escapes as toku_print_bytes does', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const line = formatRecord({ type: 'comment', lsn: 1n, timestamp: 0n, comment: all });
    const data = /data="(.*)"\} crc=/.exec(line)![1]!;
    let expected = '';
    for (let b = 0; b < 256; b++) {
      if (b === 0x22) expected += '\\"';
      else if (b === 0x5c) expected += '\\\\';
      else if (b === 0x0a) expected += '\\n';
      else if (b >= 0x20 && b <= 0x7e) expected += String.fromCharCode(b);
      else expected += '\\' + b.toString(8).padStart(3, '0');
    }
    expect(data).toBe(expected);
  });

  it('Scenario: a damaged entry formats with checksum= like the tool', () => {
    const b = Buffer.from('25000000780000000058000000e12b050061c351d30000000099000000ead90d4725000000', 'hex');
    b[29] = 0x78;
    expect(formatEntryBytes(b)).toBe(
      "begin_checkpoint         'x': lsn=88 timestamp=1455623796540257 last_xid=153 crc=470dd978 checksum=470dd9ea len=37",
    );
  });

  it('Scenario: atoi follows C (leading space, sign, trailing junk, non-numeric)', () => {
    expect(atoi('3')).toBe(3);
    expect(atoi('  -5x')).toBe(-5);
    expect(atoi('abc')).toBe(0);
    expect(atoi('+7')).toBe(7);
    expect(atoi('')).toBe(0);
  });

  it('Scenario: the printer stops consuming input once the record limit is reached', () => {
    const intact = readFileSync(edgeCases().find((c) => c.name === 'intact')!.stdinPath);
    const p = new LogPrinter(2);
    p.push(intact);
    expect(p.done).toBe(true);
    expect(p.end()).toEqual({ exitCode: 0, stderr: '', records: 2 });
  });
});

describe('printer on a length that claims more than the input holds', () => {
  /** S1's log cut inside its first enq_insert, whose key length now claims ~4 GiB, then `extra` bytes of filler. */
  function bogusKeyLength(extra: number): Uint8Array {
    const src = new Uint8Array(readFileSync(fixtureLogs().find((f) => f.name.startsWith("S1_basic"))!.path));
    const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    let at = 12;
    while (src[at + 4] !== 0x49) at += dv.getUint32(at, true); // the first enq_insert ('I')
    const out = new Uint8Array(at + 40 + extra);
    out.set(src.subarray(0, at + 40));
    new DataView(out.buffer).setUint32(at + 33, 0xfffffff0, true); // len(4) cmd(1) lsn(8) filenum(4) xid(16): the key length
    for (let i = at + 40; i < out.length; i++) out[i] = (i * 31) & 0xff;
    return out;
  }

  // Scenario: a damaged key length makes the printer wait for bytes that never come; fed in
  // small chunks (a pipe), it must keep them by copying each byte a bounded number of times,
  // not the whole kept tail once per chunk (which made a 100 MB pipe take tens of minutes).
  it('Scenario: 4 MiB fed in 4 KiB chunks are kept with copying linear in the input; output as if fed whole', () => {
    const input = bogusKeyLength(4 << 20);
    const p = new LogPrinter();
    for (let i = 0; i < input.length; i += 4096) p.push(input.subarray(i, i + 4096));
    const result = p.end();
    expect(p.tailBytesCopied).toBeLessThanOrEqual(4 * input.length);
    const whole = printLog(input);
    expect(Buffer.from(p.takeOutput()).equals(Buffer.from(whole.stdout))).toBe(true);
    expect(result).toEqual(whole.result);
    expect(result.exitCode).toBe(0); // the tool's quiet end of input inside an entry
  });
});
