import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    startedAt: bigint;
  }
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A request id for logs and the request log: the caller's X-Request-Id when sane, else ours. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.get('x-request-id');
  req.id = given && SAFE_ID.test(given) ? given : randomUUID();
  req.startedAt = process.hrtime.bigint();
  res.setHeader('X-Request-Id', req.id);
  next();
}

export function elapsedMs(req: Request): number {
  return Number(process.hrtime.bigint() - req.startedAt) / 1e6;
}
