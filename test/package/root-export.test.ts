/**
 * The root export (src/index.ts) lists the API, not the helpers that tools, tests and the
 * entry itself use to plug parts in or out (`useX1764Wasm`, `useNodeHostByDefault`, ...). The
 * published declarations are checked the same way by test/package/pack-install.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import * as core from '../../src/core.js';

/** Helpers that exist (tools and tests import their modules directly) but are not API. */
const HELPERS = ['useX1764Wasm', 'useNodeHostByDefault', 'setDefaultNodeStorageSetup', 'useFastPathsByDefault', 'useFastChecksums', 'invariant'];

describe('the root export', () => {
  // Scenario: a user browsing `import * as tokusim from 'tokusim'` finds no switches that only
  // the entry points and tests should flip.
  it('Scenario: no plug-in helper and no use*() switch is exported from tokusim or tokusim/core', () => {
    for (const entry of [api, core]) {
      const names = Object.keys(entry);
      expect(names.filter((n) => HELPERS.includes(n))).toEqual([]);
      expect(names.filter((n) => /^use[A-Z]/.test(n))).toEqual([]);
    }
  });

  // Scenario: what a user of the Node entry needs is there.
  it('Scenario: the engine, the storages, the adapter, the errors and the printer are exported', () => {
    for (const name of ['Env', 'TokusimLevel', 'NodeStorage', 'SimStorage', 'defaultNodeStorage', 'nodeEnvHost', 'setDefaultEnvHost', 'TokusimError', 'ERROR_CODES', 'MachineHalted', 'LockConflictError', 'EnvLockedError', 'LogPrinter', 'openExtraction', 'registerNodeCodecs']) {
      expect(name in api, name).toBe(true);
    }
  });
});
