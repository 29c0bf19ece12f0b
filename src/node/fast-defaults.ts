/**
 * The Node entry's one use of the fast paths: every NodeStorage the library makes when the
 * caller names none (Env.open, TokusimLevel: defaultNodeStorage) gets them, and x1764 gets
 * its WebAssembly kernel. Called by src/index.ts and the command-line entries; the core never
 * imports this module, so a build without src/fast/ runs the plain paths.
 */
import { installFastPaths, installX1764Kernel } from '../fast/install.js';
import { setDefaultNodeStorageSetup } from '../storage/node-storage.js';

/** Install the fast paths on every default NodeStorage from now on (and the x1764 kernel at the first). */
export function useFastPathsByDefault(): void {
  setDefaultNodeStorageSetup((storage) => {
    installFastPaths(storage);
  });
}

/** The x1764 kernel now, for entries that read logs without opening an environment (the CLI). */
export function useFastChecksums(): void {
  installX1764Kernel();
}
