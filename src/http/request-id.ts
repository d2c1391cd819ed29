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
  startRequest(req, res);
  runWithRequestContext({ requestId: req.id }, next);
}

/** The id and start time, without the context (for a route that enters its own, the Kaspi path). */
export function startRequest(req: Request, res: Response): void {
  const given = req.headers['x-request-id'];
  req.id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  req.startedAt = process.hrtime.bigint();
  res.setHeader('X-Request-Id', req.id);
}

export function elapsedMs(req: Request): number {
  return Number(process.hrtime.bigint() - req.startedAt) / 1e6;
}

/**
 * req.ip, read once per request: Express's getter walks the proxy chain (proxy-addr) on every read,
 * and the Kaspi route and the access line both want it.
 */
export function clientIp(req: Request): string | undefined {
  if (req.clientIpOnce === undefined)
    // Without a trusted proxy (TRUST_PROXY unset) req.ip is the socket's address whatever
    // X-Forwarded-For says; Express parses that header anyway (forwarded, proxy-addr) to find out.
    req.clientIpOnce = (req.app.get('trust proxy') === false ? req.socket.remoteAddress : req.ip) ?? '';
  return req.clientIpOnce === '' ? undefined : req.clientIpOnce;
}
