/** The cachetable layer's public surface. */
export * from './rwlock.js';
export * from './lock-order.js';
export * from './events.js';
export * from './pair.js';
export * from './background-jobs.js';
export * from './cachetable.js';
