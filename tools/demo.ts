/**
 * `make demo`: an embedded workload on the engine. Several concurrent clients run bank-style
 * transfer transactions (with some nested child txns and some aborts) for about 10 s on a real
 * directory, with scheduled checkpoints every 2 s and sync durability (group commit); a live
 * progress line shows commits, conflicts and checkpoints. Then it prints the status, checks
 * the invariant (the total balance never changes), and shows the first lines of the log
 * through the tokuft_logprint printer. The environment is left in demo-data/ for
 * `tokusim status demo-data`, `tokusim logprint demo-data` and `tokusim ftdump demo-data/...`.
 */
import { rmSync } from 'node:fs';
import pc from 'picocolors';
import { Env } from '../src/node/env.js';
import { LockConflictError } from '../src/engine/locktree.js';
import { LogCursor } from '../src/log/cursor.js';
import { formatRecord } from '../src/format/printer.js';
import { NodeStorage } from '../src/storage/node-storage.js';
import { environmentStatus } from '../src/node/env.js';

const DIR = 'demo-data';
const SECONDS = Number(process.env['DEMO_SECONDS'] ?? 10);
const CLIENTS = 6;
const ACCOUNTS = 200;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const num = (b: Uint8Array | undefined): number => (b === undefined ? 0 : Number(new TextDecoder().decode(b)));
const key = (i: number): Uint8Array => enc(`acct${String(i).padStart(4, '0')}`);

async function main(): Promise<void> {
  rmSync(DIR, { recursive: true, force: true });
  const env = await Env.open(DIR, { durability: 'sync', checkpointPeriodMs: 2000, owner: 'tokusim-demo' });
  const accounts = await env.createDictionary('accounts');
  const history = await env.createDictionary('history');
  const setup = env.begin();
  for (let i = 0; i < ACCOUNTS; i++) await setup.put(accounts, key(i), enc('100'));
  await setup.commit();

  const stats = { commits: 0, aborts: 0, conflicts: 0 };
  const deadline = Date.now() + SECONDS * 1000;
  let seq = 0;
  const client = async (id: number): Promise<void> => {
    while (Date.now() < deadline) {
      const a = Math.floor(Math.random() * ACCOUNTS);
      const b = (a + 1 + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS;
      const amount = 1 + Math.floor(Math.random() * 10);
      const t = env.begin();
      try {
        await t.put(accounts, key(a), enc(String(num(await t.get(accounts, key(a))) - amount)));
        const child = env.begin({ parent: t });
        await child.put(accounts, key(b), enc(String(num(await child.get(accounts, key(b))) + amount)));
        await child.commit();
        await t.put(history, enc(`h${String(++seq).padStart(8, '0')}`), enc(`client${id} ${a}->${b} ${amount}`));
        if (Math.random() < 0.05) {
          await t.abort();
          stats.aborts++;
        } else {
          await t.commit();
          stats.commits++;
        }
      } catch (err) {
        if (!(err instanceof LockConflictError)) throw err;
        stats.conflicts++;
        await t.abort();
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  };
  const started = Date.now();
  const progress = setInterval(() => {
    const s = env.status();
    const secs = (Date.now() - started) / 1000;
    const line = `  ${secs.toFixed(1)}s  commits ${stats.commits} (${Math.round(stats.commits / Math.max(secs, 0.1))}/s)  aborts ${stats.aborts}  conflicts ${stats.conflicts}  checkpoints ${s.checkpoint?.CP_CHECKPOINT_COUNT ?? 0}  lsn ${s.log?.lastLsn}  log syncs ${(s.log?.stats.fsyncs ?? 0) + (s.log?.stats.durableWrites ?? 0)}`;
    if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
    else process.stdout.write(`${line}\n`);
  }, process.stdout.isTTY ? 200 : 2000);
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  clearInterval(progress);
  process.stdout.write('\n');

  let total = 0;
  const reader = env.begin();
  for (const e of await reader.range(accounts)) total += num(e.value);
  await reader.commit();
  const ok = total === ACCOUNTS * 100;
  console.log(`${ok ? pc.green('OK') : pc.red('BROKEN')}: total balance ${total} (expected ${ACCOUNTS * 100}); ${stats.commits} commits, ${stats.aborts} aborts, ${stats.conflicts} lock conflicts`);
  await env.close();

  console.log(pc.bold('\n$ tokusim status demo-data'));
  process.stdout.write(await environmentStatus(new NodeStorage(), DIR));
  console.log(pc.bold('\n$ tokusim logprint demo-data | head -20'));
  const c = await LogCursor.open(new NodeStorage(), DIR);
  for (let i = 0; i < 20; i++) {
    const e = await c.next();
    if (e === undefined) break;
    console.log(formatRecord(e.record));
  }
  await c.close();
  console.log(`\nThe environment is in ${DIR}/: try 'node dist/tools/tokusim.js status ${DIR}', 'logprint ${DIR}', 'ftdump ${DIR}/tokudb.directory --header'.`);
  if (!ok) process.exitCode = 6;
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
