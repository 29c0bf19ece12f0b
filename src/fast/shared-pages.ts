/**
 * Shared pages: 4 KiB pages carved from one shared WebAssembly.Memory, for node bytes that a
 * frame worker checksums and writes (CowBytes keeps its pages here).
 *
 * Why one memory: a frame worker's x1764 kernel can fold bytes only inside a WebAssembly
 * memory. Pages on separate SharedArrayBuffers had to be copied into the kernel's scratch
 * first (V8 copies out of shared buffers slowly, several times slower than the fold itself:
 * docs/checkpoint.md), and each request named every buffer it touched, which the message then had to
 * share with the worker. Pages of this memory are folded where they lie, by a kernel that
 * imports the same memory, and a request names them by offset alone.
 *
 * Pages are reference counted by their holders (retain/release); a page whose count falls to
 * zero goes on a free list and is handed out again, zeroed. The memory grows in steps of
 * GROW_BYTES up to its maximum; when it cannot grow, alloc() returns null and the caller keeps
 * its bytes elsewhere (CowBytes falls back to plain SharedArrayBuffers).
 *
 * Invariants (checked):
 *  - Every page is either free (count 0, on the free list once) or held (count >= 1).
 *  - A page comes out of alloc() zeroed, with count 1.
 *  - release() of a page that is not held, or retain() of one, is an internal error.
 *  - Page p is bytes [p * PAGE, (p + 1) * PAGE) of the memory; the memory never shrinks, so
 *    a view made before a growth stays valid.
 */
import { invariant, TokusimError } from '../base/errors.js';

/** The size of a shared page. */
export const SHARED_PAGE_BYTES = 4096;
/** Growth step of the memory: 16 MiB. */
const GROW_BYTES = 16 * 1024 * 1024;
const WASM_PAGE = 65536;

/** The little of the WebAssembly JS API used here (the project's type libraries omit it). */
interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmMemoryApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

export class SharedPageArena {
  /** The memory (a shared WebAssembly.Memory): hand it to a worker to read the pages. */
  readonly memory: WasmMemory;
  readonly maxBytes: number;
  /** The memory's buffer as of the last growth (views are made on it). */
  private buffer: SharedArrayBuffer;
  /** Every buffer object the memory has had (a growth gives a new one over the same bytes). */
  private readonly buffers = new WeakSet<SharedArrayBuffer>();
  /** Pages handed out so far from the top of the memory (the rest are never used). */
  private used = 0;
  private counts = new Uint32Array(0);
  private free = new Int32Array(0);
  private nfree = 0;

  /**
   * A memory of at most maxBytes (a multiple of 64 KiB, at most 65535 * 64 KiB: the in-place
   * kernel needs every address below 2^32). Throws 'bad-argument' for other sizes, and
   * whatever WebAssembly throws when it cannot make the memory.
   */
  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < WASM_PAGE || maxBytes % WASM_PAGE !== 0 || maxBytes > 65535 * WASM_PAGE) {
      throw new TokusimError('bad-argument', `a shared page arena of ${maxBytes} bytes`, {
        expected: `a multiple of ${WASM_PAGE} from ${WASM_PAGE} to ${65535 * WASM_PAGE}`,
        actual: String(maxBytes),
      });
    }
    const wa = (globalThis as { WebAssembly?: WasmMemoryApi }).WebAssembly;
    if (wa === undefined) throw new Error('WebAssembly is not available');
    this.maxBytes = maxBytes;
    this.memory = new wa.Memory({ initial: 0, maximum: maxBytes / WASM_PAGE, shared: true });
    this.buffer = this.memory.buffer;
    this.buffers.add(this.buffer);
  }

  /** Pages handed out at least once (the memory's used part). */
  get pagesUsed(): number {
    return this.used;
  }

  /** Pages held now (handed out and not released). */
  get pagesHeld(): number {
    return this.used - this.nfree;
  }

  /** A zeroed page with count 1 and a view of it, or null when the memory is full. */
  alloc(): { page: number; view: Uint8Array } | null {
    let page: number;
    if (this.nfree > 0) {
      page = this.free[--this.nfree]!;
      invariant(this.counts[page] === 0, () => `shared page ${page} on the free list is held`);
      new Uint8Array(this.buffer, page * SHARED_PAGE_BYTES, SHARED_PAGE_BYTES).fill(0);
    } else {
      if ((this.used + 1) * SHARED_PAGE_BYTES > this.buffer.byteLength && !this.grow()) return null;
      page = this.used++;
    }
    this.counts[page] = 1;
    return { page, view: new Uint8Array(this.buffer, page * SHARED_PAGE_BYTES, SHARED_PAGE_BYTES) };
  }

  /** One more holder of page. */
  retain(page: number): void {
    this.checkHeld(page, 'retain');
    this.counts[page]!++;
  }

  /** One holder fewer; the last one frees the page. */
  release(page: number): void {
    this.checkHeld(page, 'release');
    if (--this.counts[page]! === 0) {
      if (this.nfree === this.free.length) {
        const bigger = new Int32Array(Math.max(1024, this.free.length * 2));
        bigger.set(this.free);
        this.free = bigger;
      }
      this.free[this.nfree++] = page;
    }
  }

  /** The holders of page (0 when free). */
  count(page: number): number {
    return this.counts[page] ?? 0;
  }

  /** The page that `view` starts in, when it is a view on this memory; else -1. */
  pageOf(view: Uint8Array): number {
    return this.owns(view.buffer) ? Math.floor(view.byteOffset / SHARED_PAGE_BYTES) : -1;
  }

  /** True when `buf` is (a buffer object of) this memory. */
  owns(buf: ArrayBufferLike): boolean {
    return buf === this.buffer || this.buffers.has(buf as SharedArrayBuffer);
  }

  private grow(): boolean {
    const have = this.buffer.byteLength;
    const want = Math.min(this.maxBytes, Math.max(have + GROW_BYTES, (this.used + 1) * SHARED_PAGE_BYTES));
    if (want <= have) return false;
    try {
      this.memory.grow((want - have) / WASM_PAGE);
    } catch {
      return false;
    }
    this.buffer = this.memory.buffer;
    this.buffers.add(this.buffer);
    const counts = new Uint32Array(this.buffer.byteLength / SHARED_PAGE_BYTES);
    counts.set(this.counts);
    this.counts = counts;
    return true;
  }

  private checkHeld(page: number, what: string): void {
    invariant(Number.isInteger(page) && page >= 0 && page < this.used && this.counts[page]! > 0, () => `${what} of shared page ${page}, which is not held`);
  }
}

/** The default arena's maximum: 4 GiB less 64 KiB (all that wasm32 addresses, see the constructor). */
export const DEFAULT_SHARED_PAGES_MAX_BYTES = 65535 * WASM_PAGE;

let arena: SharedPageArena | null | undefined;

/**
 * The process's arena, made on first use; null where WebAssembly has no shared memory (then
 * callers keep bytes on plain SharedArrayBuffers). Its memory is only reserved address space
 * until pages are used.
 */
export function sharedPages(): SharedPageArena | null {
  if (arena === undefined) {
    try {
      arena = new SharedPageArena(DEFAULT_SHARED_PAGES_MAX_BYTES);
    } catch {
      arena = null;
    }
  }
  return arena;
}

/** For tests: use `a` as the process's arena (null: none, so callers fall back). */
export function setSharedPages(a: SharedPageArena | null): void {
  arena = a;
}
