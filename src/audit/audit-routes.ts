import { Router, type Request, type Response } from 'express';
import { timeParam } from '../admin/admin-api-routes.js';
import { ValidationError } from '../shared/errors.js';
import { listLimit } from '../refunds/refund-routes.js';
import { auditView, type AuditStore } from './audit-log.js';

function oneText(name: string, v: unknown, max = 200): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length < 1 || v.length > max)
    throw new ValidationError(`${name} must be given once, 1 to ${max} characters`);
  return v;
}

/**
 * GET /api/audit?from=&to=&actor=&action=&targetType=&targetId=&before=&limit= on the admin API
 * (behind adminAuth): newest first; `before` is the last id of the previous page.
 */
export function auditRoutes(deps: { audit: AuditStore }): Router {
  const router = Router();
  router.get('/api/audit', async (req: Request, res: Response) => {
    const q = req.query;
    const before = oneText('before', q.before, 20);
    if (before !== undefined && !/^\d{1,20}$/.test(before))
      throw new ValidationError('before must be an entry id');
    const limit = listLimit(q.limit) ?? 100;
    const entries = await deps.audit.list({
      from: timeParam('from', q.from),
      to: timeParam('to', q.to),
      actor: oneText('actor', q.actor),
      action: oneText('action', q.action, 64),
      targetType: oneText('targetType', q.targetType, 32),
      targetId: oneText('targetId', q.targetId),
      beforeId: before,
      limit,
    });
    const last = entries.at(-1);
    res.json({ entries: entries.map(auditView), next: entries.length === limit && last ? last.id : null });
  });
  return router;
}
