/**
 * One error base for everything we throw on purpose. `code` is stable (tests and logs use it),
 * `httpStatus` is what an HTTP API answers. The base knows no protocol: each protocol edge maps
 * errors to its own answers (src/kaspi/kaspi-errors.ts, src/jetpay/jetpay-errors.ts,
 * src/http/error-mapper.ts), by class. `operational` errors are expected (bad input, a refused
 * request); anything else is a programmer error or an outage, and every mapper answers it with a
 * generic text that leaks nothing.
 */
export interface AppErrorOptions {
  httpStatus?: number;
  operational?: boolean;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly httpStatus: number;
  readonly operational: boolean;
  readonly details?: Record<string, unknown>;

  constructor(
    readonly code: string,
    message: string,
    opts: AppErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.httpStatus = opts.httpStatus ?? 500;
    this.operational = opts.operational ?? true;
    this.details = opts.details;
  }
}

/** The request itself is wrong. */
export class ValidationError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('validation', message, { httpStatus: 400, details });
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, message = `${what} not found`) {
    super('not_found', message, { httpStatus: 404, details: { what } });
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('conflict', message, { httpStatus: 409, details });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'unauthorized') {
    super('unauthorized', message, { httpStatus: 401 });
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'forbidden') {
    super('forbidden', message, { httpStatus: 403 });
  }
}

/** An outside party (billing, Kaspi's Refund API) did not give a usable answer. */
export class UpstreamError extends AppError {
  constructor(
    code: string,
    message: string,
    readonly transient: boolean,
    opts: AppErrorOptions = {},
  ) {
    super(code, message, { httpStatus: 502, ...opts });
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
