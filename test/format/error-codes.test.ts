import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, TokusimError, type ErrorKind } from '../../src/base/errors.js';
import { decodeLogFileHeader } from '../../src/format/log-header.js';
import { Env } from '../../src/node/env.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { MachineHalted } from '../../src/storage/storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { EXIT, exitCodeFor } from '../../tools/cli-support.js';
import { tokusimRejection as rejection } from '../support/rejection.js';

const enc = (s: string) => new TextEncoder().encode(s);
const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

/** The rows of README's "Exit codes" table: exit code and error code (when the row has one). */
function readmeRows(): Array<{ exit: number; code: string | undefined }> {
  const section = README.slice(README.indexOf('## Exit codes'));
  const rows: Array<{ exit: number; code: string | undefined }> = [];
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const m = /^\|\s*(\d+)\s*\|\s*(?:`(TOKUSIM_[A-Z_]+)`)?\s*\|/.exec(line);
    if (m) rows.push({ exit: Number(m[1]), code: m[2] });
  }
  return rows;
}

describe('stable error codes', () => {
  // Property: every error kind's code is documented in the README table, on the row of the exit code the CLI uses for that kind.
  it('Scenario: README lists every code with the exit code the CLI gives it', () => {
    const rows = readmeRows();
    expect(rows.find((r) => r.exit === 9)?.code).toBe('TOKUSIM_NOT_AN_ENVIRONMENT');
    for (const kind of Object.keys(ERROR_CODES) as ErrorKind[]) {
      const err = new TokusimError(kind, 'x');
      expect(err.code).toBe(ERROR_CODES[kind]);
      const row = rows.find((r) => r.code === err.code);
      expect(row, `README row for ${err.code}`).toBeDefined();
      expect(exitCodeFor(err), `exit code of kind ${kind}`).toBe(row!.exit);
    }
    // Documented codes all exist (no stale README rows).
    const known = new Set<string>(Object.values(ERROR_CODES));
    known.add(new MachineHalted('x').code); // the one coded error that is not a TokusimError
    for (const r of rows) if (r.code !== undefined) expect(known.has(r.code), r.code).toBe(true);
    expect(EXIT.NOT_ENV).toBe(9);
  });

  // Scenario: errors raised by real operations carry the code for what happened.
  it('Scenario: lock conflict, locked environment, corrupt and truncated input, missing file', async () => {
    const storage = new SimStorage();
    const clock = new VirtualClock();
    const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'first' });
    const d = await env.createDictionary('t');
    const t1 = env.begin();
    const t2 = env.begin();
    await t1.put(d, enc('k'), enc('1'));
    expect((await rejection(t2.put(d, enc('k'), enc('2')))).code).toBe('TOKUSIM_LOCK_CONFLICT');
    expect((await rejection(Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'second' }))).code).toBe('TOKUSIM_ENV_LOCKED');
    await t1.abort();
    await t2.abort();
    await env.close();

    const header = new Uint8Array(12);
    header.set(enc('tokulogx'));
    expect(() => decodeLogFileHeader(header)).toThrow(expect.objectContaining({ code: 'TOKUSIM_CORRUPT', kind: 'bad-magic' }));
    expect(() => decodeLogFileHeader(header.subarray(0, 5))).toThrow(expect.objectContaining({ code: 'TOKUSIM_TRUNCATED' }));
    expect((await rejection(storage.open('/nowhere/file', 'read'))).code).toBe('TOKUSIM_IO');
  });
});
