import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareLogFiles, logFileName, nextLogIndex, parseLogFileName } from '../../src/log/names.js';

describe('log file names', () => {
  it('Scenario: PerconaFT names are 12-digit zero-padded indexes with the version after .tokulog', () => {
    expect(logFileName(0)).toBe('log000000000000.tokulog29');
    expect(logFileName(7, 29)).toBe('log000000000007.tokulog29');
    expect(logFileName(1234567890123, 29)).toBe('log1234567890123.tokulog29');
    expect(logFileName(3, 1)).toBe('log000000000003.tokulog');
  });

  it('Scenario: recognition accepts any version >= 2 and the bare v1 form, and ignores everything else', () => {
    expect(parseLogFileName('log000000000007.tokulog29')).toEqual({ index: 7, version: 29 });
    expect(parseLogFileName('log5.tokulog2')).toEqual({ index: 5, version: 2 });
    expect(parseLogFileName('log000000000003.tokulog')).toEqual({ index: 3, version: 1 });
    for (const bad of ['log000000000003.tokulog1', 'log000000000003.tokulog0', 'log000000000007.tokulog29~',
      'log000000000007.tokulog29.bak', 'xlog1.tokulog29', 'log.tokulog29', 'log-1.tokulog29', 'tokudb.rollback']) {
      expect(parseLogFileName(bad)).toBeUndefined();
    }
  });

  // Property: parsing the name made for (index, version) gives (index, version) back.
  it('Property: logFileName and parseLogFileName round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 100000 }), (index, version) => {
        expect(parseLogFileName(logFileName(index, version))).toEqual({ index, version });
      }),
    );
  });

  it('Scenario: files sort by version first, then numerically by index; the next index counts only the current version', () => {
    const names = ['log000000000010.tokulog29', 'log000000000002.tokulog29', 'log000000000050.tokulog27', 'log1000000000000.tokulog29'];
    const sorted = names.map((n) => ({ n, ...parseLogFileName(n)! })).sort(compareLogFiles).map((x) => x.n);
    expect(sorted).toEqual(['log000000000050.tokulog27', 'log000000000002.tokulog29', 'log000000000010.tokulog29', 'log1000000000000.tokulog29']);
    expect(nextLogIndex([{ index: 50, version: 27 }, { index: 3, version: 29 }])).toBe(4);
    expect(nextLogIndex([{ index: 50, version: 27 }])).toBe(0);
    expect(nextLogIndex([])).toBe(0);
  });
});
