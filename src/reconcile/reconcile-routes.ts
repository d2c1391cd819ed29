import express, { Router, type Request, type Response } from 'express';
import { actors, type Actor } from '../audit/audit-log.js';
import { ValidationError } from '../shared/errors.js';
import { monthCsv, monthJson, monthText } from './reconcile-month.js';
import { itemsCsv, reportJson, summaryText } from './reconcile-report.js';
import type { ReconcileService } from './reconcile-service.js';
import { RegistryFileError } from './registry-errors.js';
import type { DelimiterChoice, EncodingChoice } from './registry-reader.js';

export interface ReconcileRoutesDeps {
  reconcile: ReconcileService;
  maxFileBytes: number;
}

const q = (req: Request, k: string): string | undefined => {
  const v = req.query[k];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new ValidationError(`${k}: one value`);
  return v;
};

function actorOf(req: Request): Actor {
  const op = req.get('x-operator');
  const base = actors.api(req.ip);
  return op && /^[\p{L}\p{N} ._@-]{1,100}$/u.test(op) ? { ...base, id: `api:${op}` } : base;
}

/** A refused file: its own status and what a person needs to fix it (headers seen, fields missing). */
function sendRefusal(res: Response, e: RegistryFileError): void {
  const { reason: _reason, ...details } = e.details ?? {};
  res.status(e.httpStatus).json({ error: e.code, message: e.message, ...details });
}

/**
 * Registries on the admin API (behind adminAuth; shared/spec/reconciliation.md "Interfaces"). The
 * file is the raw body, read by express.raw up to RECONCILE_MAX_FILE_BYTES on this route only: a
 * larger body is 413 before anything is parsed. The magic bytes decide the type, not Content-Type.
 */
export function reconcileRoutes(deps: ReconcileRoutesDeps): Router {
  const router = Router();
  const svc = deps.reconcile;
  const raw = express.raw({ type: () => true, limit: deps.maxFileBytes });

  router.post('/api/reconciliations', raw, async (req: Request, res: Response) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const kind = q(req, 'kind');
    if (kind && kind !== 'daily' && kind !== 'monthly') throw new ValidationError('kind: daily or monthly');
    const receivedAt = q(req, 'receivedAt');
    const received = receivedAt ? new Date(receivedAt) : null;
    if (received && Number.isNaN(received.getTime())) throw new ValidationError('receivedAt: an ISO time');
    try {
      const actor = actorOf(req);
      const r = await svc.import(body, {
        fileName: q(req, 'filename') ?? null,
        kind: kind as 'daily' | 'monthly' | undefined,
        from: q(req, 'from'),
        to: q(req, 'to'),
        profile: q(req, 'profile'),
        sheet: q(req, 'sheet'),
        encoding: q(req, 'encoding') as EncodingChoice | undefined,
        delimiter: q(req, 'delimiter') as DelimiterChoice | undefined,
        receivedAt: received,
        replaces: q(req, 'replaces') ?? null,
        rerun: q(req, 'rerun') === 'true',
        origin: 'api',
        actor,
        operator: req.get('x-operator') ?? null,
      });
      const ctx = await svc.context((r.run as { id: string }).id);
      const view = reportJson(ctx).run;
      res.status(r.duplicate ? 200 : 201).json({
        ...view,
        duplicate: r.duplicate,
        itemsUrl: `/api/reconciliations/${view.id}/items`,
      });
    } catch (e) {
      if (e instanceof RegistryFileError) return sendRefusal(res, e);
      throw e;
    }
  });

  router.get('/api/reconciliations', async (req: Request, res: Response) => {
    const limit = q(req, 'limit');
    const offset = q(req, 'offset');
    if (limit && !/^\d{1,3}$/.test(limit)) throw new ValidationError('limit: 1..500');
    if (offset && !/^\d{1,9}$/.test(offset)) throw new ValidationError('offset: a whole number');
    const day = (k: string) => {
      const v = q(req, k);
      if (v && !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new ValidationError(`${k}: YYYY-MM-DD`);
      return v?.replace(/-/g, '');
    };
    const runs = await svc.store.listRuns({
      from: day('from'),
      to: day('to'),
      status: q(req, 'status'),
      limit: limit ? Number(limit) : undefined,
      offset: offset ? Number(offset) : undefined,
    });
    res.json({ runs: await Promise.all(runs.map((r) => svc.runSummary(r))) });
  });

  // The monthly statement: `2026-11` or `202611`; ?format=json (default) | csv | txt.
  router.get('/api/reconciliations/month/:yyyymm', async (req: Request, res: Response) => {
    const raw = String(req.params.yyyymm);
    const month = /^\d{6}$/.test(raw) ? `${raw.slice(0, 4)}-${raw.slice(4)}` : raw;
    const format = q(req, 'format') ?? 'json';
    if (!['json', 'csv', 'txt'].includes(format)) throw new ValidationError('format: json, csv or txt');
    const m = await svc.month(month);
    if (format === 'csv')
      res
        .type('text/csv; charset=utf-8')
        .set('Content-Disposition', `attachment; filename="reconciliation-${m.month}.csv"`)
        .send(monthCsv(m));
    else if (format === 'txt') res.type('text/plain; charset=utf-8').send(monthText(m));
    else res.json(monthJson(m));
  });

  router.get('/api/reconciliations/:id', async (req: Request, res: Response) => {
    res.json(reportJson(await svc.context(String(req.params.id))));
  });

  router.get('/api/reconciliations/:id/items', async (req: Request, res: Response) => {
    const ctx = await svc.context(String(req.params.id));
    const state = q(req, 'state');
    const severity = q(req, 'severity');
    const cls = q(req, 'class');
    const items = reportJson(ctx).items.filter(
      (i) =>
        (!state || i.state === state) && (!severity || i.severity === severity) && (!cls || i.class === cls),
    );
    res.json({ items });
  });

  router.get('/api/reconciliations/:id/items.csv', async (req: Request, res: Response) => {
    const ctx = await svc.context(String(req.params.id));
    res
      .type('text/csv; charset=utf-8')
      .set('Content-Disposition', `attachment; filename="reconciliation-${ctx.run.id}-items.csv"`)
      .send(itemsCsv(ctx));
  });

  router.get('/api/reconciliations/:id/summary.txt', async (req: Request, res: Response) => {
    res.type('text/plain; charset=utf-8').send(summaryText(await svc.context(String(req.params.id))));
  });

  router.post('/api/reconciliations/:id/rerun', async (req: Request, res: Response) => {
    const run = await svc.rerun(String(req.params.id), actorOf(req), 'api');
    res.status(201).json(reportJson(await svc.context(run.id)).run);
  });

  router.get('/api/reconciliation-items', async (req: Request, res: Response) => {
    const items = await svc.todo({
      state: q(req, 'state') ?? 'open',
      severity: q(req, 'severity'),
      class: q(req, 'class'),
    });
    res.json({ items });
  });

  const json = express.json({
    limit: '16kb',
    strict: true,
    type: ['application/json', 'application/*+json'],
  });
  router.post('/api/reconciliation-items/:id/resolve', json, async (req: Request, res: Response) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b !== 'object' || Array.isArray(b)) throw new ValidationError('body must be a JSON object');
    const str = (k: string) => {
      const v = b[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'string') throw new ValidationError(`${k} must be a string`);
      return v;
    };
    if (typeof b.action !== 'string') throw new ValidationError('action is required');
    const item = await svc.resolve(String(req.params.id), {
      action: b.action,
      note: str('note'),
      account: str('account'),
      payment: str('payment'),
      actor: actorOf(req),
    });
    res.json(await svc.viewOf(item));
  });

  return router;
}
