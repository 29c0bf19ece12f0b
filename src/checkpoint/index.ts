/** The checkpoint layer's public surface. */
export * from './locks.js';
export * from './events.js';
export * from './status.js';
export * from './txn-provider.js';
export * from './checkpointable-dictionary.js';
export * from './checkpointer.js';
export * from './node-sink.js';
