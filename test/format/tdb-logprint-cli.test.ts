import { spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { edgeCases } from './fixture-logs.js';

// The built tool (`make test` builds first); this checks the real entry point, shebang and stdin handling.
const TOOL = join(import.meta.dirname, '..', '..', 'dist', 'tools', 'tdb-logprint.js');

describe('tdb-logprint as a process', () => {
  it('Scenario: the built tool exists and starts with a node shebang', () => {
    expect(existsSync(TOOL), `${TOOL} missing: run make build`).toBe(true);
    expect(readFileSync(TOOL, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  const wanted = ['intact', 'bad_magic', 'truncated_mid_rec5', 'arg_oldcode', 'arg_two_counts', 'trailing_zeros_16'];
  for (const c of edgeCases().filter((e) => wanted.includes(e.name))) {
    for (const how of ['file', 'pipe'] as const) {
      it(`Scenario: edge case ${c.name} through a ${how} on stdin matches the real tool`, () => {
        const fd = how === 'file' ? openSync(c.stdinPath, 'r') : undefined;
        try {
          const r = spawnSync(process.execPath, [TOOL, ...c.args], {
            stdio: [fd ?? 'pipe', 'pipe', 'pipe'],
            input: fd === undefined ? readFileSync(c.stdinPath) : undefined,
          });
          expect(r.stdout.equals(c.stdout)).toBe(true);
          expect(r.stderr.toString('latin1')).toBe(c.stderr.toString('latin1'));
          expect(r.status).toBe(c.exitCode);
        } finally {
          if (fd !== undefined) closeSync(fd);
        }
      });
    }
  }
});
