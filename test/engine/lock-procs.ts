/**
 * Helpers for tests that race real processes over one environment (env-lock-race and
 * env-lock-pause tests). The children run the built library (dist/, `make test` builds it
 * first) from a small script written into the test's own temp directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export const DIST_ENV = join(import.meta.dirname, '..', '..', 'dist', 'src', 'node', 'env.js');

export function distBuilt(): boolean {
  return existsSync(DIST_ENV);
}

/**
 * A child that reads one JSON task per stdin line and answers one JSON line per task:
 *  - { op: 'race', dir, startAt, keys, leaseMs? }: wait until the wall clock reaches startAt
 *    (spinning for the last stretch, so racers start within microseconds of each other), open
 *    the environment, commit each key in its own durable transaction, close. Answers
 *    { result: 'held', from, to, acked } (from/to: wall ms after the open returned and before
 *    close began) or { result: 'refused', kind, name, message }.
 *  - { op: 'hold', dir, keys, leaseMs? }: open, commit the keys, answer { result: 'holding',
 *    acked } and keep the environment open (until killed or told { op: 'commit', keys }).
 *  - { op: 'commit', keys }: commit more keys to the held environment; answers
 *    { result: 'committed', acked } or { result: 'failed', kind, name, message }, then closes.
 */
const CHILD = (envUrl: string) => `
import { createInterface } from 'node:readline';
const { Env } = await import(${JSON.stringify(envUrl)});
const enc = (s) => new TextEncoder().encode(s);
const now = () => performance.timeOrigin + performance.now();
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const refused = (e) => ({ kind: e?.kind, name: e?.name, message: String(e?.message ?? e) });
let held;
async function commit(env, keys) {
  const d = await env.openDictionary('t').catch(() => env.createDictionary('t'));
  const acked = [];
  for (const k of keys) {
    await env.put(d, enc(k), enc('v'));
    acked.push(k);
  }
  return acked;
}
const lines = createInterface({ input: process.stdin });
say({ ready: true });
for await (const line of lines) {
  const t = JSON.parse(line);
  const opts = { checkpointPeriodMs: 0, durability: 'sync', ...(t.leaseMs ? { leaseMs: t.leaseMs } : {}) };
  if (t.op === 'race') {
    while (now() < t.startAt - 5) await new Promise((r) => setTimeout(r, 1));
    while (now() < t.startAt);
    let env;
    try {
      env = await Env.open(t.dir, opts);
    } catch (e) {
      say({ result: 'refused', ...refused(e) });
      continue;
    }
    const from = now();
    try {
      const acked = await commit(env, t.keys);
      const to = now();
      await env.close();
      say({ result: 'held', from, to, acked });
    } catch (e) {
      say({ result: 'error', ...refused(e) });
    }
  } else if (t.op === 'hold') {
    held = await Env.open(t.dir, opts);
    say({ result: 'holding', acked: await commit(held, t.keys) });
  } else if (t.op === 'commit') {
    try {
      const acked = await commit(held, t.keys);
      say({ result: 'committed', acked });
    } catch (e) {
      say({ result: 'failed', ...refused(e) });
    }
    await held.close().catch(() => undefined);
    process.exit(0);
  }
}
`;

export interface Reply {
  ready?: boolean;
  result?: string;
  from?: number;
  to?: number;
  acked?: string[];
  kind?: string;
  name?: string;
  message?: string;
}

/** One child process and its reply queue. */
export class LockChild {
  private readonly replies: Reply[] = [];
  private waiters: Array<(r: Reply) => void> = [];
  private stderr = '';
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(scriptPath: string) {
    this.proc = spawn(process.execPath, [scriptPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const r = JSON.parse(line) as Reply;
      const w = this.waiters.shift();
      if (w !== undefined) w(r);
      else this.replies.push(r);
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The next reply (rejects if the child exits first). */
  next(): Promise<Reply> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      void this.exited.then((code) => reject(new Error(`child ${this.pid} exited (${code}) before answering: ${this.stderr}`)));
    });
  }

  send(task: object): void {
    this.proc.stdin!.write(JSON.stringify(task) + '\n');
  }

  async stop(): Promise<void> {
    this.proc.stdin!.end();
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** Write the child script into dir and return its path. */
export function writeChildScript(dir: string): string {
  const path = join(dir, 'lock-child.mjs');
  writeFileSync(path, CHILD(pathToFileURL(DIST_ENV).href));
  return path;
}
