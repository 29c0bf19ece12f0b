/**
 * `make bench`: run every benchmark program under tools/bench/ one after another, each in its
 * own node process (so their memory figures do not mix), and print their figures. Add a
 * benchmark by adding its compiled file name to BENCHMARKS. BENCH_SCALE is passed through.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const BENCHMARKS: string[] = ['logprint-bench.js', 'checkpoint-bench.js', 'crashtest-bench.js', 'engine-bench.js', 'cursor-bench.js', 'extract-bench.js', 'backup-bench.js'];

let failed = 0;
for (const b of BENCHMARKS) {
  const script = join(import.meta.dirname, b);
  console.log(`\n===== ${b} =====`);
  if (!existsSync(script)) {
    console.log(`missing ${script} (run make build)`);
    failed++;
    continue;
  }
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`${b} exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exitCode = failed === 0 ? 0 : 1;
