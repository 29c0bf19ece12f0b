/** tokusim public API. */
export * from './format/x1764.js';
export * from './format/errors.js';
export * from './format/record-types.js';
