/** The crash-test harness (issue 6): model, programs, runner, exhaustive mode, driver. */
export * from './program.js';
export * from './model.js';
export * from './runner.js';
export * from './generator.js';
export * from './exhaustive.js';
export * from './crashtest.js';
