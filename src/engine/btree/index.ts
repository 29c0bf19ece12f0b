/** The B+tree that holds a dictionary's rows: node objects, codec, node store, tree, cursor. */
export { LeafNode, InternalNode, PackedPivots, newPackedInternal, type BtreeNode, compareKeys, newLeaf, newPackedLeaf, newInternal, entryCount, lowerBound, upperBound, childIndexFor, cloneNode, checkNodeShape, nodeContents, escapeKey } from './node.js';
export * from './leaf-rows.js';
export * from './node-codec.js';
export * from './node-store.js';
export * from './fill.js';
export * from './latch.js';
export * from './btree.js';
