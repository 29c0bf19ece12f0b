import { expect } from 'vitest';
import { TokusimError } from '../../src/base/errors.js';

/** What p (or the promise f returns, or what f throws) rejects with; undefined when it resolves. */
export async function rejection(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err;
  }
  return undefined;
}

/** The TokusimError p rejects with (fails the test when p resolves or rejects with anything else). */
export async function tokusimRejection(p: Promise<unknown> | (() => unknown)): Promise<TokusimError> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(TokusimError);
  return err as TokusimError;
}
