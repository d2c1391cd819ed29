import { isAppError, NotFoundError, UnauthorizedError, ValidationError } from '../shared/errors.js';

/**
 * JetPay's protocol edge: a JSON `code` (0/400/404/500) with a `message`. Bad input and a bad
 * signature are 400, an unknown customer or payment 404, any other operational error (a refusal,
 * the billing unavailable) 500 with its message; anything else is "Internal error" (logged whole
 * by the caller, never sent).
 */
export function toJetpayAnswer(err: unknown): { code: 400 | 404 | 500; message: string } {
  const e = err as { type?: string };
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return { code: 400, message: 'Unsupported content encoding' };
  }
  if (e?.type === 'request.aborted' || e?.type === 'request.size.invalid')
    return { code: 400, message: 'Incomplete request body' };
  if (isAppError(err) && err.operational) {
    const code =
      err instanceof ValidationError || err instanceof UnauthorizedError
        ? 400
        : err instanceof NotFoundError
          ? 404
          : 500;
    return { code, message: err.message };
  }
  return { code: 500, message: 'Internal error' };
}
