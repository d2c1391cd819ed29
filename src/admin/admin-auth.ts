import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { UnauthorizedError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';

const log = getLogger('admin-auth');

/** Compares through fixed-length digests, so neither the time taken nor an early exit tells the key's length or prefix. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Guards every `/api` path of the admin listener with `Authorization: Bearer $ADMIN_API_KEY`.
 * Mounted before the API routers; /healthz and /metrics stay open (the listener is private).
 * Without a configured key the API is closed, not open.
 */
export function adminAuth(apiKey: string | undefined): Router {
  const router = Router();
  router.use('/api', (req: Request, res: Response, next: NextFunction) => {
    if (!apiKey) {
      next(new UnauthorizedError('admin API is closed: ADMIN_API_KEY is not set'));
      return;
    }
    const m = /^Bearer ([^\s]+)$/i.exec(req.get('authorization') ?? '');
    if (!m || !sameSecret(m[1] as string, apiKey)) {
      log.warn('admin API call refused: missing or wrong key', {
        path: req.path,
        ip: req.ip,
        requestId: req.id,
      });
      res.setHeader('WWW-Authenticate', 'Bearer');
      next(new UnauthorizedError('missing or wrong Bearer key'));
      return;
    }
    next();
  });
  return router;
}
