import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogWriter } from '../../src/log/writer.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { EXIT, describeError, exitCodeFor } from '../../tools/cli-support.js';
import { runLogprint, type LogprintOptions } from '../../tools/commands/logprint.js';
import { S4, tempDir } from '../log/helpers.js';

const S1 = join(S4, '..', 'S1_basic');

/** Run the command body in-process the way the CLI does: stdout text, stderr line, exit code. */
async function run(opts: LogprintOptions, signal?: AbortSignal, onWrite?: (all: string) => void): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  try {
    const code = await runLogprint(opts, {
      write: (t) => {
        out += typeof t === 'string' ? t : Buffer.from(t).toString('latin1');
        onWrite?.(out);
      },
      signal,
    });
    return { out, err: '', code };
  } catch (e) {
    return { out, err: `tokusim: ${describeError(e)}\n`, code: exitCodeFor(e) };
  }
}

const fixtureText = (scenario: string, name: string) => readFileSync(join(scenario, 'logprint', `${name}.txt`), 'latin1');

describe('tokusim logprint', () => {
  it('Scenario: one real PerconaFT file prints exactly what tokuft_logprint printed', async () => {
    for (const [scen, sub] of [[S1, 'logs'], [S4, 'logs']] as const) {
      const name = readdirSync(join(scen, sub))[0]!;
      const r = await run({ paths: [join(scen, sub, name)] });
      expect(r.code).toBe(0);
      expect(r.out).toBe(fixtureText(scen, name));
    }
  });

  it('Scenario: two directories (trimmed files + live file) print in LSN order as the eight tokuft_logprint outputs concatenated', async () => {
    const r = await run({ paths: [join(S4, 'logs'), join(S4, 'logs_trimmed')] });
    expect(r.code).toBe(0);
    let expected = '';
    for (let i = 0; i <= 7; i++) expected += fixtureText(S4, `log00000000000${i}.tokulog29`);
    expect(r.out).toBe(expected);
  });

  it('Scenario: --type, --xid, --start-lsn, --end-lsn and --limit select records', async () => {
    const paths = [join(S4, 'logs_trimmed')];
    const lines = (s: string) => s.split('\n').filter((l) => l.length > 0 && !l.startsWith('tokulog'));
    const cps = lines((await run({ paths, types: ['begin_checkpoint,end_checkpoint'] })).out);
    expect(cps.length).toBe(8); // startup + checkpoints #1..#3 in the trimmed files
    expect(cps.every((l) => /^(begin|end)_checkpoint /.test(l))).toBe(true);
    const txn = lines((await run({ paths, xid: '3' })).out);
    expect(txn.length).toBeGreaterThan(50);
    expect(txn.every((l) => / xid=3,0 /.test(l))).toBe(true);
    const range = lines((await run({ paths, startLsn: '430', endLsn: '445' })).out);
    expect(range.map((l) => /lsn=(\d+)/.exec(l)![1])).toEqual(Array.from({ length: 16 }, (_, i) => String(430 + i)));
    const limited = lines((await run({ paths, types: ['xcommit'], limit: 3 })).out);
    expect(limited.length).toBe(3);
    expect(limited.every((l) => l.startsWith('xcommit'))).toBe(true);
  });

  it('Scenario: --json prints one parsable object per record and no header lines', async () => {
    const r = await run({ paths: [join(S4, 'logs')], json: true, limit: 5 });
    const objs = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; lsn: string });
    expect(objs.map((o) => o.lsn)).toEqual(['2956', '2957', '2958', '2959', '2960']);
    expect(objs[0]!.type).toBe('xbegin');
  });

  it('Scenario: --stats counts records and bytes per type, matching the S4 scenario description', async () => {
    const r = await run({ paths: [join(S4, 'logs_trimmed'), join(S4, 'logs')], stats: true });
    expect(r.code).toBe(0);
    const counts = Object.fromEntries(
      r.out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)).map((p) => [p[0]!, Number(p[1])]),
    );
    expect(counts).toEqual({
      begin_checkpoint: 7, end_checkpoint: 7, enq_insert: 3005, fassociate: 24, fclose: 5,
      fcreate: 4, shutdown: 1, xbegin: 64, xcommit: 64, total: 3181,
    });
    const totalBytes = Number(r.out.trim().split('\n').pop()!.trim().split(/\s+/)[2]);
    const fileBytes = [...readdirSync(join(S4, 'logs_trimmed')).map((n) => join(S4, 'logs_trimmed', n)), join(S4, 'logs', 'log000000000007.tokulog29')]
      .map((p) => readFileSync(p).length - 12)
      .reduce((a, b) => a + b, 0);
    expect(totalBytes).toBe(fileBytes);
  });

  it('Scenario: a corrupt record prints every good record first, then one stderr line with file, offset, last good LSN and checksums; exit 3', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const src = readFileSync(join(S4, 'logs', 'log000000000007.tokulog29'));
      const bad = Buffer.from(src);
      // Corrupt the third record (lsn 2958): find its offset by walking the lengths.
      let off = 12;
      for (let i = 0; i < 2; i++) off += bad.readUInt32LE(off);
      bad[off + 15]! ^= 0x01;
      const path = join(dir, 'log000000000007.tokulog29');
      writeFileSync(path, bad);
      const r = await run({ paths: [path] });
      expect(r.code).toBe(EXIT.CORRUPT);
      expect(r.out.trim().split('\n').length).toBe(3); // header + lsn 2956, 2957
      expect(r.err.split('\n').length).toBe(2); // exactly one line
      expect(r.err).toContain(path);
      expect(r.err).toContain(`offset ${off}`);
      expect(r.err).toContain('last good lsn 2957');
      expect(r.err).toMatch(/expected [0-9a-f]{8}, actual [0-9a-f]{8}/);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      cleanup();
    }
  });

  it('Scenario: a torn tail exits 4, a missing file exits 5, a bad --type exits 2', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const src = readFileSync(join(S4, 'logs', 'log000000000007.tokulog29'));
      const path = join(dir, 'log000000000007.tokulog29');
      writeFileSync(path, src.subarray(0, src.length - 10));
      const torn = await run({ paths: [path] });
      expect(torn.code).toBe(EXIT.TRUNCATED);
      expect(torn.out.trim().split('\n').pop()).toMatch(/lsn=3180 /);
      expect(torn.err).toContain('last good lsn 3180');
      expect((await run({ paths: [join(dir, 'nope.tokulog29')] })).code).toBe(EXIT.IO);
      const badType = await run({ paths: [dir], types: ['xcommit,bogus'] });
      expect(badType.code).toBe(EXIT.USAGE);
      expect(badType.err).toContain('bogus');
      expect((await run({ paths: [dir], xid: 'seven' })).code).toBe(EXIT.USAGE);
      expect((await run({ paths: [] })).code).toBe(EXIT.USAGE);
    } finally {
      cleanup();
    }
  });

  // Scenario: a reader follows a live log through a rollover and stops on SIGINT (an abort).
  it('Scenario: --follow prints records as they are written, picks up new files after rollover, and stops when aborted', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const storage = new NodeStorage();
      const w = await LogWriter.open({ storage, dir, lgMax: 2000, bufferSize: 500 });
      const ac = new AbortController();
      let seenLast = false;
      const target = 200n;
      const follow = run({ paths: [dir], follow: true, pollMs: 10 }, ac.signal, (all) => {
        if (all.includes(`lsn=${target} `)) seenLast = true;
      });
      for (let i = 0; i < Number(target); i++) {
        w.append({ type: 'xcommit', xid: { parent: BigInt(i + 1), child: 0n } });
        if (i % 5 === 4) await w.fsync();
      }
      await w.close();
      for (let k = 0; k < 500 && !seenLast; k++) await new Promise((res) => setTimeout(res, 10));
      ac.abort();
      const r = await follow;
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(seenLast).toBe(true);
      const lsns = [...r.out.matchAll(/lsn=(\d+) /g)].map((m) => BigInt(m[1]!));
      expect(lsns).toEqual(Array.from({ length: Number(target) }, (_, i) => BigInt(i + 1)));
      expect(readdirSync(dir).length).toBeGreaterThan(2);
      expect(r.out.split('tokulog v.29').length - 1).toBe(readdirSync(dir).length);
    } finally {
      cleanup();
    }
  });
});

