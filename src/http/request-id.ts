import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { runWithRequestContext } from '../log/request-context.js';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    startedAt: bigint;
    /** req.ip, kept by clientIp() once read. */
    clientIpOnce?: string;
  }
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A request id for logs and the request log: the caller's X-Request-Id when sane, else ours. The rest
 * of the request runs inside its context, so every log line it causes carries the id.
 */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.get('x-request-id');
  req.id = given && SAFE_ID.test(given) ? given : randomUUID();
  req.startedAt = process.hrtime.bigint();
  res.setHeader('X-Request-Id', req.id);
  runWithRequestContext({ requestId: req.id }, next);
}

export function elapsedMs(req: Request): number {
  return Number(process.hrtime.bigint() - req.startedAt) / 1e6;
}

/**
 * req.ip, read once per request: Express's getter walks the proxy chain (proxy-addr) on every read,
 * and the Kaspi route and the access line both want it.
 */
export function clientIp(req: Request): string | undefined {
  if (req.clientIpOnce === undefined) req.clientIpOnce = req.ip ?? '';
  return req.clientIpOnce === '' ? undefined : req.clientIpOnce;
}
