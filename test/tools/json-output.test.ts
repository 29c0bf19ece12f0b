import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Env } from '../../src/node/env.js';
import { TokusimError } from '../../src/base/errors.js';
import { LogCursor } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { EXIT, exitCodeFor } from '../../tools/cli-support.js';
import { runCrashtest } from '../../tools/commands/crashtest.js';
import { runFtdump, type FtdumpJson } from '../../tools/commands/ftdump.js';
import { runRecover, type RecoverJson } from '../../tools/commands/recover.js';
import { runStatus } from '../../tools/commands/status.js';
import type { StatusReport } from '../../src/node/env.js';
import { referenceDicts } from '../format/ft-fixtures-helper.js';

const enc = (s: string) => new TextEncoder().encode(s);
const quiet = { write: () => undefined, isTTY: false };

/** A crashed environment: committed rows, one transaction left open, no shutdown record. */
async function crashedEnv(dir: string): Promise<string> {
  const env = await Env.open(dir, { checkpointPeriodMs: 0, owner: 'json' });
  const d = await env.createDictionary('t');
  await env.put(d, enc('a'), enc('1'));
  const open = env.begin();
  await open.put(d, enc('b'), enc('2'));
  await env.put(d, enc('c'), enc('3'));
  env.abandon();
  rmSync(join(dir, '__tokusim_env_lock'));
  return String(open.id);
}

async function status(dir: string, json: boolean): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runStatus(new NodeStorage(), dir, json, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

/** Entries of the (only) log file of dir: offset and length. */
async function entriesOf(dir: string): Promise<{ file: string; entries: Array<{ offset: number; length: number; lsn: bigint }> }> {
  const storage = new NodeStorage();
  const files = await findLogFiles(storage, dir);
  const c = new LogCursor(storage, files.map((f) => f.path));
  const entries: Array<{ offset: number; length: number; lsn: bigint }> = [];
  try {
    for (let e = await c.next(); e !== undefined; e = await c.next()) entries.push({ offset: e.offset, length: e.length, lsn: e.record.lsn });
  } finally {
    await c.close();
  }
  return { file: files[files.length - 1]!.path, entries };
}

describe('tokusim status --json and its exit codes', () => {
  // Scenario: status --json on a crashed environment reports the same facts as the text form.
  it('Scenario: status --json of a crashed environment says recovery is needed, with the log range and dictionaries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-json-status-'));
    try {
      await crashedEnv(dir);
      const text = await status(dir, false);
      const json = await status(dir, true);
      expect(json.code).toBe(0);
      expect(json.err).toBe('');
      const r = JSON.parse(json.out) as StatusReport;
      expect(r.environment).toBe(dir);
      expect(r.recoveryNeeded).toBe(true);
      expect(r.lock).toBeNull();
      expect(r.logFiles).toHaveLength(1);
      const f = r.logFiles[0]!;
      expect(text.out).toContain(`${f.name}  ${f.bytes} bytes  ${f.entries} entries  LSN ${f.firstLsn}..${f.lastLsn}`);
      expect(f.damage).toBeNull();
      expect(text.out).toContain(`begun ${r.checkpoints.begun}, completed ${r.checkpoints.completed}`);
      expect(text.out).toContain(`last log record: ${r.lastRecord!.type} at LSN ${r.lastRecord!.lsn}`);
      expect(r.dictionaries.map((d) => d.file)).toContain('tokudb.directory');
      const withHeader = r.dictionaries.find((d) => d.file === 'tokudb.directory')!;
      expect(text.out).toContain(`tokudb.directory  slot ${withHeader.slot} in use  checkpoint_count ${withHeader.checkpointCount}`);
      expect(r.dictionaries.some((d) => d.slot === null && d.error !== null)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Scenario: a bit flip inside a log entry: the report is still printed (damage included), then
  // one stderr line names the file and offset, and status exits 3 (corrupt).
  it('Scenario: status on a log with a corrupt entry prints the report, one error line and exits 3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-json-corrupt-'));
    try {
      await crashedEnv(dir);
      const { file, entries } = await entriesOf(dir);
      const victim = entries[Math.floor(entries.length / 2)]!;
      const bytes = readFileSync(file);
      bytes[victim.offset + 14] ^= 0x40;
      writeFileSync(file, bytes);
      for (const json of [false, true]) {
        const r = await status(dir, json);
        expect(r.code).toBe(EXIT.CORRUPT);
        expect(r.err).toMatch(new RegExp(`^tokusim: ${file}, offset ${victim.offset}[^\\n]*\\n$`));
        if (json) {
          const rep = JSON.parse(r.out) as StatusReport;
          expect(rep.logFiles[0]!.damage).toMatchObject({ offset: victim.offset });
          expect(rep.recoveryNeeded).toBeNull();
        } else {
          expect(r.out).toContain(`DAMAGED at ${victim.offset}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Scenario: the newest log file ends inside an entry (a torn tail): exit 4 (truncated).
  it('Scenario: status on a log that ends inside an entry exits 4', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-json-torn-'));
    try {
      await crashedEnv(dir);
      const { file, entries } = await entriesOf(dir);
      const last = entries[entries.length - 1]!;
      truncateSync(file, last.offset + Math.floor(last.length / 2));
      const r = await status(dir, true);
      expect(r.code).toBe(EXIT.TRUNCATED);
      expect(r.err).toMatch(new RegExp(`^tokusim: ${file}[^\\n]*\\n$`));
      expect((JSON.parse(r.out) as StatusReport).logFiles[0]!.damage).toMatchObject({ offset: last.offset, kind: 'truncated' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Scenario: a missing or empty directory is refused as not an environment (exit 9), with
  // nothing on stdout.
  it("Scenario: status refuses a missing or empty directory with kind 'not-an-environment' (exit 9)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-json-empty-'));
    try {
      for (const d of [dir, join(dir, 'missing')]) {
        let out = '';
        const err = await runStatus(new NodeStorage(), d, true, (s) => (out += s), () => undefined).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TokusimError);
        expect((err as TokusimError).kind).toBe('not-an-environment');
        expect(exitCodeFor(err)).toBe(EXIT.NOT_ENV);
        expect(EXIT.NOT_ENV).toBe(9);
        expect(out).toBe('');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tokusim ftdump --json', () => {
  const dicts = referenceDicts().filter((d) => d.ftdumpDir !== undefined);
  // Scenario: for every real PerconaFT dictionary, the JSON header and translation table carry
  // exactly the values tokuftdump printed.
  it('Scenario: ftdump --json of every reference dictionary matches tokuftdump values', async () => {
    expect(dicts.length).toBeGreaterThan(5);
    let checked = 0;
    for (const d of dicts) {
      const r = await runFtdump({ file: d.path, json: true });
      const asText = await runFtdump({ file: d.path });
      expect(r.code, d.path).toBe(asText.code);
      if (asText.code !== 0) {
        // A dictionary tokuftdump cannot deserialize either: the same error, no document.
        expect(r.stdout).toBe('');
        expect(r.stderr).toBe(asText.stderr);
        continue;
      }
      checked++;
      const doc = JSON.parse(r.stdout) as FtdumpJson;
      const header = readFileSync(join(d.ftdumpDir!, `${d.name}.header.txt`), 'utf8');
      const field = (name: string) => new RegExp(`^ ${name}=(-?\\d+)`, 'm').exec(header)![1]!;
      expect(doc.header!['checkpointCount'], d.path).toBe(field('checkpoint_count'));
      expect(doc.header!['checkpointLsn'], d.path).toBe(field('checkpoint_lsn'));
      expect(doc.header!['rootBlocknum'], d.path).toBe(field('unnamed_root'));
      expect(doc.header!['nodesize'], d.path).toBe(Number(field('nodesize')));
      const table = readFileSync(join(d.ftdumpDir!, `${d.name}.translation-table.txt`), 'utf8');
      const rows = table.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
      expect(doc.translationTable!.map((t) => [String(t.blocknum), t.diskoff, t.size]), d.path).toEqual(rows);
    }
    expect(checked).toBeGreaterThan(5);
  });

  // Scenario: --both-headers --json lists both slots and the one a reader picks.
  it('Scenario: ftdump --both-headers --json names the chosen slot; an unreadable file gives no document', async () => {
    const d = dicts[0]!;
    const r = await runFtdump({ file: d.path, 'both-headers': true, json: true });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as FtdumpJson;
    expect(doc.headerSlots!.map((s) => s.slot)).toEqual([0, 1]);
    expect(doc.chosenSlot).not.toBeNull();
    expect(doc.headerSlots![doc.chosenSlot!]!.status).toBe('ok');
    expect(doc.header).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-json-ftdump-'));
    try {
      const junk = join(dir, 'junk.tokudb');
      writeFileSync(junk, new Uint8Array(16384).fill(7));
      const bad = await runFtdump({ file: junk, json: true });
      expect(bad.code).toBe(1);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toMatch(/^tokusim: can not deserialize from /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tokusim recover --json', () => {
  // Scenario: recover --json on a crashed environment reports the aborted transaction; a
  // second run finds a clean shutdown.
  it('Scenario: recover --json reports the aborted open transaction, then recovered: false', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokusim-json-recover-'));
    try {
      const openId = await crashedEnv(dir);
      let out = '';
      const narration: string[] = [];
      await runRecover(dir, (s) => narration.push(s), (s) => (out += s), false, { json: true });
      const r = JSON.parse(out) as RecoverJson;
      expect(r.recovered).toBe(true);
      expect(r.txnsAborted).toEqual([openId]);
      expect(r.txnsPrepared).toEqual([]);
      expect(r.entriesReplayed).toBeGreaterThan(0);
      expect(BigInt(r.lastLsn!)).toBeGreaterThan(BigInt(r.turningPointLsn!));
      expect(narration.join('')).toMatch(/scanning forward/);
      let again = '';
      await runRecover(dir, () => undefined, (s) => (again += s), false, { json: true });
      expect(JSON.parse(again)).toMatchObject({ recovered: false, entriesReplayed: 0, repair: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tokusim crashtest --json', () => {
  // Scenario: the JSON summary holds the same counts as the text summary of the same run.
  it('Scenario: crashtest --json counts equal the text summary of the same seeds', async () => {
    const text: string[] = [];
    expect(await runCrashtest({ seed: 900, runs: 3, progress: quiet }, (l) => text.push(l))).toBe(EXIT.OK);
    const json: string[] = [];
    expect(await runCrashtest({ seed: 900, runs: 3, json: true, progress: quiet }, (l) => json.push(l))).toBe(EXIT.OK);
    expect(json).toHaveLength(1);
    const doc = JSON.parse(json[0]!) as { programs: number; crashStates: number; imageChecks: number; violations: unknown[]; faults: string[] };
    expect(doc.programs).toBe(3);
    expect(text.join('\n')).toContain(`crash states explored: ${doc.crashStates} (plus ${doc.imageChecks} checkpoint images checked)`);
    expect(doc.violations).toEqual([]);
    expect(doc.faults.length).toBeGreaterThan(0);
  }, 120_000);

  // Scenario: a planted bug's violation in JSON carries a replay command that reproduces it.
  it('Scenario: crashtest --json with a planted bug exits 6 and its replay command reproduces the violation', async () => {
    const out: string[] = [];
    expect(await runCrashtest({ seed: 5, runs: 200, plantBug: 'checkpoint-no-clone', json: true, progress: quiet }, (l) => out.push(l))).toBe(EXIT.VIOLATION);
    const doc = JSON.parse(out.join('\n')) as { violations: Array<{ seed: number; jitter: number; script: string[]; replay: string; message: string }> };
    expect(doc.violations).toHaveLength(1);
    const v = doc.violations[0]!;
    expect(v.replay).toContain(`--script '${v.script.join('; ')}'`);
    const again: string[] = [];
    const faults = /--faults (\S+)/.exec(v.replay)![1]!;
    expect(await runCrashtest({ seed: v.seed, runs: 0, jitter: v.jitter, faults, plantBug: 'checkpoint-no-clone', script: v.script.join('; '), json: true }, (l) => again.push(l))).toBe(EXIT.VIOLATION);
    expect((JSON.parse(again.join('\n')) as { violations: Array<{ message: string }> }).violations[0]!.message).toBe(v.message);
  }, 120_000);
});
