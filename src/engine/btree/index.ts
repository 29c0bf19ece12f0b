/** The B+tree that holds a dictionary's rows: node objects, codec, node store, tree, cursor. */
export { type LeafNode, type InternalNode, type BtreeNode, compareKeys, newLeaf, newInternal, entryCount, lowerBound, upperBound, childIndexFor, cloneNode, checkNodeShape, escapeKey } from './node.js';
export * from './node-codec.js';
export * from './node-store.js';
export * from './fill.js';
export * from './latch.js';
export * from './btree.js';
