import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../log/logger.js';
import { clientIp, elapsedMs } from './request-id.js';

/** Where request counts go (src/metrics/metrics.ts implements it; http knows no more of it). */
export interface RequestMetrics {
  observeRequest(endpoint: string, status: number | string, result: string, seconds: number): void;
}

/** What a route tells the access log and the metrics about its answer. */
export interface Outcome {
  /** A short, bounded name: `kaspi_pay`, `jetpay_verify` (never a raw URL: it is a metric label). */
  endpoint?: string;
  /** The protocol's own result (Kaspi's 0..5, JetPay's code), when HTTP 200 does not say it. */
  result?: string | number | null;
  txnId?: string | null;
}

export function noteOutcome(res: Response, outcome: Outcome): void {
  const had = res.locals.outcome as Outcome | undefined;
  res.locals.outcome = had ? { ...had, ...outcome } : outcome;
}

export interface ObserveOptions {
  log: Logger;
  metrics?: RequestMetrics;
  /** Paths polled by machines (/healthz, /metrics): logged at debug, not info. */
  quietPaths?: string[];
}

/**
 * One access log line per request and the request metrics, both written when the answer has gone
 * out, so they add no wait to it. The line carries the request id, the txn_id and the outcome.
 */
export function observeRequests(opts: ObserveOptions): RequestHandler {
  const watch = requestWatcher(opts);
  return (req: Request, res: Response, next: NextFunction) => {
    watch(res);
    next();
  };
}

/**
 * What observeRequests does to one request, for a route that comes before the middleware stack (the
 * Kaspi path): one `close` listener, the same for every request (no closure per request; the
 * request is the answer's own `req`).
 */
export function requestWatcher(opts: ObserveOptions): (res: Response) => void {
  const quiet = new Set(opts.quietPaths ?? []);
  function onClose(this: Response): void {
    const req = this.req;
    const outcome = (this.locals.outcome as Outcome | undefined) ?? {};
    const route = req.route as { path?: unknown } | undefined;
    const endpoint =
      outcome.endpoint ?? (typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched');
    const status = this.writableFinished ? this.statusCode : 'aborted';
    const result = outcome.result === undefined || outcome.result === null ? '' : String(outcome.result);
    const ms = elapsedMs(req);
    opts.metrics?.observeRequest(endpoint, status, result, ms / 1000);
    opts.log.log(quiet.has(req.path) ? 'debug' : 'info', 'request', {
      requestId: req.id,
      method: req.method,
      path: req.path,
      endpoint,
      status,
      result: result || undefined,
      txnId: outcome.txnId ?? undefined,
      ms: Math.round(ms * 10) / 10,
      ip: clientIp(req),
    });
  }
  return (res: Response) => void res.once('close', onClose);
}
