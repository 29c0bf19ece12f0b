/**
 * The plain block sink: the reference way a node's serialized bytes become its disk block
 * (spec checkpoint-algorithm.md §7: the flush callback serializes the node and writes it
 * through realloc_on_disk). The bytes are framed here, on the calling thread, in one step,
 * and handed to the dictionary's write.
 *
 * Invariants:
 *  - The block written is frameBlock(concatenation of the parts, padTo512): the same bytes any
 *    faster sink (src/fast/block-sinks.ts) must leave.
 *  - The parts are only read, and only before the first await, so they may change afterwards.
 */
import { framedLength, frameBlock } from '../format/block-frame.js';
import { totalLength } from '../base/bytes.js';
import { invariant } from '../base/errors.js';
import type { BlockPayload, BlockSink } from '../storage/storage.js';

/** The parts as one array (the part itself when there is one). */
function joined(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(totalLength(parts));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Frame on this thread, then write. */
export const plainBlockSink: BlockSink = {
  async writeBlock(payload: BlockPayload, write: (block: Uint8Array) => Promise<void>): Promise<void> {
    const bytes = joined(payload.parts);
    // Padded here, so the dictionary writes the frame without another copy.
    const block = frameBlock(bytes, { padTo512: true });
    invariant(block.length === framedLength(bytes.length), 'a plain block is padded to its framed length');
    await write(block);
  },
};
