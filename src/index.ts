/** tokusim public API. */
export * from './format/x1764.js';
export * from './format/errors.js';
export * from './format/record-types.js';
export * from './format/codec.js';
export * from './format/log-header.js';
export * from './format/printer.js';
export * from './format/json.js';
export * from './storage/storage.js';
export * from './storage/io-error.js';
export * from './storage/clock.js';
export * from './storage/node-storage.js';
export * from './storage/prng.js';
export * from './storage/sim-storage.js';
