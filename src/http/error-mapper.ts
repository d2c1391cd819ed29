import type { NextFunction, Request, Response } from 'express';
import { getLogger } from '../log/logger.js';
import { isAppError } from '../shared/errors.js';

const log = getLogger('http');

/**
 * The one place an error becomes an answer on the JSON APIs. An operational AppError says what it
 * is; anything else is logged whole and answered with a generic text: no stack, SQL or secret
 * ever leaves the process.
 */
export function toHttpAnswer(err: unknown): { status: number; body: { error: string; message: string } } {
  const e = err as { type?: string; status?: number; statusCode?: number };
  if (e?.type === 'entity.too.large')
    return { status: 413, body: { error: 'too_large', message: 'request body too large' } };
  if (e?.type === 'entity.parse.failed')
    return { status: 400, body: { error: 'validation', message: 'malformed JSON' } };
  if (isAppError(err) && err.operational) {
    return { status: err.httpStatus, body: { error: err.code, message: err.message } };
  }
  return { status: 500, body: { error: 'internal', message: 'internal error' } };
}

export function jsonErrorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const answer = toHttpAnswer(err);
  if (answer.status >= 500) log.error('request failed', { err, path: req.path, requestId: req.id });
  if (res.headersSent) return;
  res.status(answer.status).json(answer.body);
}

/** Unknown paths: a plain 404, never the framework's HTML page. */
export function notFound(_req: Request, res: Response): void {
  res.status(404).type('text/plain').send('Not Found');
}

/** Last resort on the public listener: plain text, nothing of the error. */
export function plainErrorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const answer = toHttpAnswer(err);
  if (answer.status >= 500) log.error('request failed', { err, path: req.path, requestId: req.id });
  if (res.headersSent) return;
  res
    .status(answer.status)
    .type('text/plain')
    .send(answer.status === 500 ? 'Internal Error' : answer.body.message);
}
