import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { CLASSES, type ItemClass } from '../../reconcile/reconcile-matcher.js';
import { itemsCsv, reportJson, summaryText } from '../../reconcile/reconcile-report.js';
import { allowedActions } from '../../reconcile/reconcile-service.js';
import { RegistryFileError } from '../../reconcile/registry-errors.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { crossOrigin, needRole } from '../console-http.js';
import { html, type SafeHtml } from '../html.js';
import { parseMultipart, type UploadedFile } from '../multipart.js';
import { itemPage, notice, reconciliationPage, runPage, uploadRefused } from '../pages/index.js';
import type { ItemFilter, ItemView } from '../pages/reconcile.js';
import { actor, ctx, cursor, one, send, sess, type ConsoleDeps } from './common.js';

const UPLOAD = '/console/reconciliation/upload';
const SHOWN_CLASSES: readonly string[] = CLASSES.filter((c) => c !== 'MATCHED' && c !== 'REFUND_MATCHED');

/**
 * The upload's multipart body, read before the session guard checks its CSRF token (which is one of
 * its fields), and only for a signed-in, same-origin POST: nobody else makes us buffer a file. The
 * size limit is RECONCILE_MAX_FILE_BYTES plus room for the form's other fields.
 */
export function uploadBody(deps: ConsoleDeps) {
  const max = (deps.reconcile?.maxFileBytes ?? 0) + 64 * 1024;
  const raw = express.raw({ type: 'multipart/form-data', limit: max });
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || !ctx(res).session || crossOrigin(req) || !deps.reconcile) return next();
    raw(req, res, (err?: unknown) => {
      if (err) return next(err);
      const parsed = Buffer.isBuffer(req.body) ? parseMultipart(req.body, req.get('content-type')) : null;
      req.body = parsed?.fields ?? {};
      res.locals.files = parsed?.files ?? [];
      next();
    });
  };
}

/**
 * Reconciliation: the same ReconcileService as /api/reconciliations and /api/reconciliation-items
 * (its import, its views, its resolve with the class's rules); the service writes the
 * registry.uploaded and item.resolved audit entries in the change's own transaction.
 */
export function registerReconcileRoutes(router: Router, deps: ConsoleDeps): void {
  const svcOr404 = (res: Response) => {
    if (!deps.reconcile) throw new NotFoundError('reconciliation', ctx(res).t('notFound'));
    return deps.reconcile.service;
  };

  async function showList(res: Response, status?: SafeHtml, code = 200) {
    const svc = svcOr404(res);
    const runs = await svc.store.listRuns({ limit: 50 });
    const [views, todo] = await Promise.all([
      Promise.all(runs.map((r) => svc.runSummary(r))),
      svc.todo({ state: 'open', severity: 'action' }),
    ]);
    send(res, reconciliationPage(ctx(res), views, todo.slice(0, 100) as ItemView[], status), code);
  }

  router.get('/console/reconciliation', async (_req, res) => {
    await showList(res);
  });

  router.post(UPLOAD, async (req, res) => {
    needRole(sess(res), 'operator');
    const svc = svcOr404(res);
    const c = ctx(res);
    const file = ((res.locals.files ?? []) as UploadedFile[]).find((f) => f.field === 'registry');
    if (!file || file.data.length === 0) throw new ValidationError('choose a registry file (xlsx or csv)');
    const b = req.body as Record<string, unknown>;
    const from = one(b.from, 10);
    const to = one(b.to, 10) ?? from;
    try {
      const r = await svc.import(file.data, {
        fileName: file.fileName || null,
        from: from ?? null,
        to: from ? (to ?? null) : null,
        origin: 'console',
        actor: actor(req, res),
        operator: `console:${sess(res).login}`,
      });
      const id = (r.run as { id: string }).id;
      res.redirect(303, `/console/reconciliation/runs/${id}?${r.duplicate ? 'duplicate' : 'uploaded'}=1`);
    } catch (e) {
      if (!(e instanceof RegistryFileError)) throw e;
      await showList(res, uploadRefused(c, e.message, e.details ?? {}), e.httpStatus);
    }
  });

  router.get('/console/reconciliation/runs/:id', async (req, res) => {
    const svc = svcOr404(res);
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('run');
    const c = ctx(res);
    const q = req.query;
    const f: ItemFilter = {
      state: one(q.state, 20),
      severity: one(q.severity, 10),
      class: SHOWN_CLASSES.includes(q.class as string) ? (q.class as string) : undefined,
    };
    const report = reportJson(await svc.context(id));
    const items = report.items.filter(
      (i) =>
        (!f.state || i.state === f.state) &&
        (!f.severity || i.severity === f.severity) &&
        (!f.class || i.class === f.class),
    );
    const status =
      q.uploaded === '1'
        ? notice(html`${c.t('uploaded')} ${id}.`)
        : q.duplicate === '1'
          ? notice(html`${c.t('duplicateFile')} ${id}.`)
          : q.rerun === '1'
            ? notice(html`${c.t('rerunDone')} ${id}.`)
            : undefined;
    send(res, runPage(c, report.run, items, f, SHOWN_CLASSES, status));
  });

  // The same two outputs as /api/reconciliations/:id/items.csv and summary.txt (reconcile-report):
  // whoever may read the run's items on the page may take them away.
  router.get('/console/reconciliation/runs/:id/items.csv', async (req, res) => {
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('run');
    const report = await svcOr404(res).context(id);
    res
      .type('text/csv; charset=utf-8')
      .set('Content-Disposition', `attachment; filename="reconciliation-${report.run.id}-items.csv"`)
      .send(itemsCsv(report));
  });

  router.get('/console/reconciliation/runs/:id/summary.txt', async (req, res) => {
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('run');
    const report = await svcOr404(res).context(id);
    res
      .type('text/plain; charset=utf-8')
      .set('Content-Disposition', `attachment; filename="reconciliation-${report.run.id}-summary.txt"`)
      .send(summaryText(report));
  });

  // Re-match the run's stored rows against what we hold now (after a late pay, a credit, a refund):
  // a new run, as `reconcile rerun` and POST /api/reconciliations/:id/rerun make; moves no money.
  router.post('/console/reconciliation/runs/:id/rerun', async (req, res) => {
    needRole(sess(res), 'operator');
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('run');
    const run = await svcOr404(res).rerun(id, actor(req, res), 'console');
    res.redirect(303, `/console/reconciliation/runs/${run.id}?rerun=1`);
  });

  async function showItem(res: Response, id: string, status?: SafeHtml) {
    const svc = svcOr404(res);
    const item = await svc.store.getItem(id);
    if (!item) throw new NotFoundError('item');
    const view = (await svc.viewOf(item)) as ItemView;
    send(res, itemPage(ctx(res), view, allowedActions(item.class as ItemClass), status));
  }

  router.get('/console/reconciliation/items/:id', async (req, res) => {
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('item');
    await showItem(res, id);
  });

  router.post('/console/reconciliation/items/:id/resolve', async (req, res) => {
    needRole(sess(res), 'operator');
    const svc = svcOr404(res);
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('item');
    const b = req.body as Record<string, unknown>;
    const action = one(b.action, 20);
    if (!action) throw new ValidationError('choose an action');
    const item = await svc.resolve(id, {
      action,
      note: one(b.note, 500) ?? null,
      account: one(b.account) ?? null,
      payment: one(b.payment, 40) ?? null,
      actor: actor(req, res),
    });
    await showItem(res, id, notice(html`${ctx(res).t('resolved')} ${item.state}`));
  });
}
