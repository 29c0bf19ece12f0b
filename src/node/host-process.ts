/**
 * Who this process is, and whether a process named in a lock file is still the one that wrote
 * it: the Node host's HostProcesses (src/engine/host.ts), read from /proc. Lives beside the
 * Node entry because it uses node:fs, node:os and worker_threads, which the core never imports.
 *
 * A process is identified by host name, boot id, pid namespace, pid, thread, and the pid's
 * start time (field 22 of /proc/<pid>/stat, clock ticks since boot). A pid alone is not
 * enough: after the holder dies the kernel may give its pid to an unrelated process, which
 * would then look like a live holder forever; the start time tells the two apart.
 *
 * Invariants:
 *  - processState answers 'alive' only when the pid exists on this host, in this pid namespace
 *    and boot, is not a zombie, and has the recorded start time; 'dead' (no such pid, or a
 *    zombie) or 'reused' (the pid runs with another start time) only when that is certain on
 *    this host; otherwise 'unknown' (another host, boot or namespace, or nothing to verify the
 *    pid with), and then the caller must rely on something else (a lease).
 *  - Nothing here writes anything.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import type { HostProcesses, ProcessIdentity, ProcessState } from '../engine/host.js';

function tryRead(read: () => string): string | undefined {
  try {
    const s = read().trim();
    return s.length > 0 ? s : undefined;
  } catch {
    return undefined;
  }
}

/** State letter and start time from /proc/<pid>/stat; the command name may hold spaces and parentheses. */
function procStat(pid: number | 'self'): { state: string; startTicks: string } | undefined {
  const text = tryRead(() => readFileSync(`/proc/${pid}/stat`, 'latin1'));
  if (text === undefined) return undefined;
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 1).trim().split(/\s+/);
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTicks = fields[19];
  if (state === undefined || startTicks === undefined || !/^\d+$/.test(startTicks)) return undefined;
  return { state, startTicks };
}

let self: ProcessIdentity | undefined;

/** This process (and thread). */
export function currentProcess(): ProcessIdentity {
  if (self === undefined) {
    const id: ProcessIdentity = { host: hostname(), pid: process.pid };
    const bootId = tryRead(() => readFileSync('/proc/sys/kernel/random/boot_id', 'latin1'));
    const pidNs = tryRead(() => readlinkSync('/proc/self/ns/pid'));
    const startTicks = procStat('self')?.startTicks;
    if (bootId !== undefined) id.bootId = bootId;
    if (pidNs !== undefined) id.pidNs = pidNs;
    if (startTicks !== undefined) id.startTicks = startTicks;
    self = id;
  }
  return { ...self, thread: threadId };
}

/** Whether the pid exists on this machine (signal 0; EPERM means it exists but is not ours). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process `other` names is the live process that wrote it (see the invariants).
 * The caller handles `other` naming this very process (only it knows which locks it holds).
 */
export function processState(other: ProcessIdentity): ProcessState {
  const me = currentProcess();
  if (other.host !== me.host) return 'unknown';
  if (other.bootId !== undefined && me.bootId !== undefined && other.bootId !== me.bootId) return 'unknown';
  if (other.pidNs !== undefined && me.pidNs !== undefined && other.pidNs !== me.pidNs) return 'unknown';
  if (!Number.isSafeInteger(other.pid) || other.pid <= 0) return 'unknown';
  if (!pidExists(other.pid)) return 'dead';
  const stat = procStat(other.pid);
  if (stat !== undefined && (stat.state === 'Z' || stat.state === 'X')) return 'dead';
  if (other.startTicks === undefined || stat === undefined) return 'unknown';
  return stat.startTicks === other.startTicks ? 'alive' : 'reused';
}

/** This host's processes as the env lock judges them (identity and state from /proc). */
export const nodeProcesses: HostProcesses = Object.freeze({ current: currentProcess, state: processState });
