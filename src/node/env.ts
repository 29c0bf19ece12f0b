/**
 * The engine as Node programs use it: Env and environmentStatus with the Node host installed
 * as the default (src/node/host.ts), so `Env.open(dir)` without a storage opens real files and
 * the env lock judges holders by their process. Tools and tests that open real directories
 * import Env from here; the core module (src/engine/env.ts) is the same class, with the
 * portable host until some entry installs another.
 *
 * Invariants:
 *  - Importing this module installs the Node host as the default EnvHost (its one side effect,
 *    the same one src/index.ts has).
 */
import { useNodeHostByDefault } from './host.js';

useNodeHostByDefault();

export * from '../engine/env.js';
export { environmentStatus, type StatusReport, type StatusCollector } from '../engine/status.js';
export { nodeEnvHost } from './host.js';
export { nodeProcesses } from './host-process.js';
