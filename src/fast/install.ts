/**
 * The one entry point of the fast paths: installFastPaths(nodeStorage) plugs the WebAssembly
 * x1764 kernel into format/x1764.ts and gives the storage the fast block sinks (sliced
 * framing and copies, and frame workers that checksum and write node blocks off the main
 * thread). The core (everything outside src/fast/) never imports this directory; the Node
 * entry (src/node/fast-defaults.ts), benchmarks and the fast-path tests do.
 *
 * Invariants:
 *  - Installing changes no byte on disk and no outcome: every block is the plain sink's, and
 *    x1764 gives the same values with the kernel as without.
 *  - Nothing here runs when the module is loaded; the kernel is instantiated on the first
 *    installFastPaths (or installX1764Kernel) call.
 */
import { setX1764Kernel, x1764UsesWasm } from '../format/x1764.js';
import { ioError } from '../storage/io-error.js';
import type { FrameWriter, NodeStorage } from '../storage/node-storage.js';
import type { Storage } from '../storage/storage.js';
import { fastBlockSinks } from './block-sinks.js';
import { DEFAULT_FRAME_WORKER_NICE, FramedPayload, FrameWorkerPool } from './frame-workers.js';
import type { FrameWriteMode } from './frame-protocol.js';
import { wasmX1764Kernel } from './x1764-wasm.js';

/**
 * Two frame workers that write their blocks themselves ('worker-sync'); the measurements
 * behind this choice are in docs/checkpoint.md ("frame workers").
 */
export const DEFAULT_FRAME_WORKERS = 2;
/** How frame workers write when no option says otherwise. */
export const DEFAULT_FRAME_WRITE_MODE: FrameWriteMode = 'worker-sync';

/** Options of {@link installFastPaths}. */
export interface FastPathOptions {
  /**
   * Worker threads that checksum and write framed node blocks off the main thread (default
   * DEFAULT_FRAME_WORKERS; 0: none, large blocks are framed in slices on the main thread).
   */
  frameWorkers?: number;
  /**
   * 'worker-sync' (default): each worker checksums and writes its blocks itself; 'worker': it
   * hands the write to libuv's I/O threads; 'libuv': it checksums, the main thread writes.
   */
  frameWriteMode?: FrameWriteMode;
  /** The frame workers' nice value on Linux (0..19, default 10: below the client threads). */
  frameWorkerNice?: number;
}

/** What was installed on a storage, for benchmarks and tests. */
export interface FastPaths {
  /** The frame worker pool (null with frameWorkers 0). */
  readonly frames: FrameWorkerPool | null;
  /** Frame worker threads running now (they start on the first framed write). */
  readonly frameWorkersRunning: number;
  /** How often the pool spread writes over all its workers, and how often it kept to one. */
  readonly frameWorkerSpread: { all: number; one: number };
}

/** Storages whose pwrite takes FramedPayloads (frame workers installed). */
const withFrameWorkers = new WeakSet<Storage>();

/** True when `storage` writes FramedPayloads through frame workers (installFastPaths with frameWorkers > 0). */
export function acceptsFramedPayload(storage: Storage): boolean {
  return withFrameWorkers.has(storage);
}

/**
 * Claims FramedPayloads on a storage without frame workers and refuses them with an io error,
 * so one never reaches the file as its poison bytes.
 */
const noFrameWorkers: FrameWriter = {
  claims: (data) => data instanceof FramedPayload,
  write: async (_fd, path) => {
    throw ioError('pwrite', path, 'EINVAL', 'this storage has no frame workers');
  },
  close: async () => {},
};

/** Plug the WebAssembly kernel into x1764 for this process (once; a no-op without WebAssembly). */
export function installX1764Kernel(): void {
  if (!x1764UsesWasm()) setX1764Kernel(wasmX1764Kernel());
}

/** Install the fast paths on a fresh NodeStorage (before it opens a file). */
export function installFastPaths(storage: NodeStorage, opts: FastPathOptions = {}): FastPaths {
  installX1764Kernel();
  const workers = opts.frameWorkers ?? DEFAULT_FRAME_WORKERS;
  const frames = workers > 0 ? new FrameWorkerPool(workers, opts.frameWriteMode ?? DEFAULT_FRAME_WRITE_MODE, opts.frameWorkerNice ?? DEFAULT_FRAME_WORKER_NICE) : null;
  const blockSinks = fastBlockSinks({ yieldNow: storage.capabilities.yieldNow, framedWrites: frames !== null });
  storage.install({ blockSinks, frames: frames ?? noFrameWorkers });
  if (frames !== null) withFrameWorkers.add(storage);
  return {
    frames,
    get frameWorkersRunning() {
      return frames?.running ?? 0;
    },
    get frameWorkerSpread() {
      return { ...(frames?.spread ?? { all: 0, one: 0 }) };
    },
  };
}
