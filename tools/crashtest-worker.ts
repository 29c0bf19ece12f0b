/**
 * The program of a crashtest worker thread (tools/crashtest-pool.ts): it runs the units the
 * pool sends, one at a time, and answers each with its result.
 *
 * Invariants:
 *  - The worker is set up as its parent: the same planted bugs, checksums and default host,
 *    so a unit gives the same result on any thread.
 *  - Every unit gets exactly one answer: its result, or the error that stopped it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { plantBug } from '../src/base/bug-switches.js';
import { useFastChecksums } from '../src/node/fast-defaults.js';
import { useNodeHostByDefault } from '../src/node/host.js';
import { UnitRunner, type CrashtestUnit } from '../src/sim/crashtest.js';
import { describe } from '../src/sim/runner.js';
import type { WorkerSetup } from './crashtest-pool.js';

const setup = workerData as WorkerSetup;
for (const bug of setup.plantedBugs) plantBug(bug);
if (setup.fastChecksums) useFastChecksums();
if (setup.nodeHost) useNodeHostByDefault();
const units = new UnitRunner(setup.options);
const port = parentPort!;
let queue = Promise.resolve();
port.on('message', (unit: CrashtestUnit) => {
  queue = queue.then(() =>
    units.run(unit).then(
      (result) => port.postMessage({ result }),
      (err: unknown) => port.postMessage({ unit, error: describe(err) }),
    ),
  );
});
