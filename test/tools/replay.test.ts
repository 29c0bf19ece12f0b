// `tokusim replay LOGDIR --dump`: output format, refusal of partial logs, damaged logs.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokusimError } from '../../src/base/errors.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { EXIT, exitCodeFor } from '../../tools/cli-support.js';
import { escapeBytes, replayCommand, type ReplayCommandOptions } from '../../tools/commands/replay.js';

const FIX = join(process.cwd(), 'fixtures', 'perconaft');
const S1_LOG = join(FIX, 'S1_basic', 'logs', 'log000000000000.tokulog29');
const scratch = mkdtempSync(join(tmpdir(), 'tokusim-replay-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(logdirs: string[], opts: Partial<ReplayCommandOptions> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await replayCommand(
    new NodeStorage(),
    { logdirs, dump: true, userOnly: false, partial: false, ...opts },
    { stdout: (s) => void (out += s), stderr: (s) => void (err += s) },
  );
  return { code, out, err };
}

/** A scratch log dir holding S1's log cut or patched by `edit`. */
function damagedS1(name: string, edit: (path: string) => void): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  const path = join(dir, 'log000000000000.tokulog29');
  copyFileSync(S1_LOG, path);
  edit(path);
  return dir;
}

/** Byte offset just after the entry with the given LSN in a v29 log file. */
function offsetAfterLsn(bytes: Uint8Array, lsn: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 12; off < bytes.length; ) {
    const len = dv.getUint32(off, true);
    const entryLsn = dv.getUint32(off + 5, true) * 2 ** 32 + dv.getUint32(off + 9, true);
    off += len;
    if (entryLsn === lsn) return off;
  }
  throw new Error(`lsn ${lsn} not found`);
}

describe('tokusim replay', () => {
  // Scenario: every dumped KEY and VALUE is exactly the text PerconaFT's tokuft_logprint puts
  // between the quotes for that byte string, rows are tab-separated, sorted by iname then key.
  it('Scenario: S7 dump uses the printer escaping and the documented order', async () => {
    const { code, out } = await run([join(FIX, 'S7_all_types/clean/logs')]);
    expect(code).toBe(EXIT.OK);
    const printed = readFileSync(join(FIX, 'S7_all_types/clean/logprint/log000000000000.tokulog29.txt'), 'latin1');
    const lines = out.split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      const parts = line.split('\t');
      expect(parts, line).toHaveLength(3);
      // Every key of a data dictionary was logged by some record that the real printer shows.
      expect(printed.includes(`data="${parts[1]}"`), `key ${parts[1]}`).toBe(true);
    }
    const inames = lines.map((l) => l.split('\t')[0]!);
    expect(inames).toEqual([...inames].sort());
    expect(out).toContain('s7_orders_4_1_1d.tokudb\tord\\n0002\\011tab\tline1\\nline2\\011col\n');
    expect(out).toContain('s7_orders_4_1_1d.tokudb\tord-empty-val\t\n');
  });

  // Scenario: the escaper agrees with the printer's rules of spec §10.4 on every byte value.
  it('Scenario: escapeBytes follows toku_print_bytes for all 256 byte values', () => {
    for (let b = 0; b < 256; b++) {
      const want = b === 0x22 ? '\\"' : b === 0x5c ? '\\\\' : b === 0x0a ? '\\n' : b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '\\' + b.toString(8).padStart(3, '0');
      expect(escapeBytes(Uint8Array.of(b))).toBe(want);
    }
  });

  // Scenario: --user-only leaves out the environment's own dictionaries.
  it('Scenario: --user-only drops tokudb.directory and tokudb.environment', async () => {
    const all = await run([join(FIX, 'S1_basic/logs')]);
    const user = await run([join(FIX, 'S1_basic/logs')], { userOnly: true });
    expect(all.out).toMatch(/^tokudb\.directory\t/m);
    expect(user.out).not.toMatch(/^tokudb\./m);
    expect(user.out.split('\n').length - 1).toBe(50);
  });

  // Scenario: without --dump, one summary line per dictionary.
  it('Scenario: without --dump a summary line per dictionary', async () => {
    const { out } = await run([join(FIX, 'S1_basic/logs')], { dump: false });
    expect(out).toContain('alpha_db_2_1_1d.tokudb\trows=17\n');
    expect(out).toContain('gamma_db_2_4_1d.tokudb\trows=16\n');
  });

  // Scenario: S4's live file alone starts at LSN 2956 (older files trimmed): refused clearly.
  it('Scenario: a log without its first LSN is refused unless --partial', async () => {
    const err = await run([join(FIX, 'S4_rollover/logs')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokusimError);
    expect(exitCodeFor(err)).toBe(EXIT.CORRUPT);
    expect(String((err as Error).message)).toMatch(/log000000000007\.tokulog29.*first LSN 2956/);
    const partial = await run([join(FIX, 'S4_rollover/logs')], { partial: true });
    expect(partial.code).toBe(EXIT.OK);
    expect(partial.err).toMatch(/incomplete: roll0_db_2_1_1d\.tokudb: may hold rows the log does not show/);
  });

  // Scenario: a torn final record: everything before it is printed (the same as a clean cut
  // at the last whole record), the damage is named on stderr, exit TRUNCATED.
  it('Scenario: a torn tail prints what was read and exits TRUNCATED', async () => {
    const bytes = readFileSync(S1_LOG);
    const cut = offsetAfterLsn(bytes, 100);
    const clean = await run([damagedS1('clean-cut', (p) => truncateSync(p, cut))]);
    const torn = await run([damagedS1('torn', (p) => truncateSync(p, cut + 20))]);
    expect(clean.code).toBe(EXIT.OK);
    expect(torn.code).toBe(EXIT.TRUNCATED);
    expect(torn.out).toBe(clean.out);
    expect(torn.err).toMatch(new RegExp(`torn/log000000000000\\.tokulog29, offset ${cut}, last good lsn 100`));
    const full = await run([join(FIX, 'S1_basic/logs')]);
    expect(torn.out.length).toBeLessThan(full.out.length);
  });

  // Scenario: a flipped byte inside a record: a checksum error with file and offset, exit CORRUPT.
  it('Scenario: a corrupt record stops the replay with exit CORRUPT', async () => {
    const bytes = readFileSync(S1_LOG);
    const at = offsetAfterLsn(bytes, 60);
    const dir = damagedS1('flipped', (p) => {
      const b = readFileSync(p);
      b[at + 20] = b[at + 20]! ^ 0xff;
      writeFileSync(p, b);
    });
    const r = await run([dir]);
    expect(r.code).toBe(EXIT.CORRUPT);
    expect(r.err).toMatch(new RegExp(`flipped/log000000000000\\.tokulog29, offset ${at}`));
    expect(r.err).toMatch(/replay stopped early/);
  });

  // Scenario: S7 crash: the open and prepared transactions are summarised on stderr.
  it('Scenario: pending transactions and callback records are reported on stderr', async () => {
    const r = await run([join(FIX, 'S7_all_types/crash/logs')]);
    expect(r.code).toBe(EXIT.OK);
    expect(r.err).toMatch(/txn 4,0 still prepared/);
    expect(r.err).toMatch(/txn 11,0 still live/);
    expect(r.err).toMatch(/needs the application: lsn \d+ enq_updatebroadcast/);
    expect(r.out).not.toContain('open-at-crash');
  });
});
