import { isAppError, NotFoundError } from '../shared/errors.js';

export type KaspiResultCode = 0 | 1 | 2 | 3 | 4 | 5;

/**
 * Kaspi's protocol edge: every failure is an XML result. An operational error that says "not
 * found" is 1 (account or order unknown); any other operational error is 5 with its message; a
 * failure we did not foresee is 5 with a generic comment that leaks nothing.
 */
export function toKaspiAnswer(err: unknown): { result: KaspiResultCode; comment: string } {
  if (isAppError(err) && err.operational)
    return { result: err instanceof NotFoundError ? 1 : 5, comment: err.message };
  return { result: 5, comment: 'Temporary error, try again later' };
}
