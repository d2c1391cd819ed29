import type { Response, Router } from 'express';
import { REFUND_STATUSES, type RefundStatus } from '../../refunds/refund-store.js';
import { NotFoundError } from '../../shared/errors.js';
import { needRole } from '../console-http.js';
import { html, type SafeHtml } from '../html.js';
import { attentionPage, notice, refundPage, refundsPage, type ItemView } from '../pages/index.js';
import { actor, ctx, cursor, PAGE, send, sess, type ConsoleDeps } from './common.js';

/** Refunds, a refund with its Kaspi exchanges and Resume, and the Attention queue. */
export function registerRefundsRoutes(router: Router, deps: ConsoleDeps): void {
  const s = deps.settings;
  router.get('/console/refunds', async (req, res) => {
    const status = REFUND_STATUSES.includes(req.query.status as RefundStatus)
      ? (req.query.status as RefundStatus)
      : undefined;
    const flagged = req.query.flagged === 'true';
    const before = cursor(req.query.before);
    let list = await deps.refunds.list({ status, flagged: flagged || undefined, before, limit: PAGE });
    const next = list.length === PAGE ? (list.at(-1) as { id: string }).id : null;
    // Flagged first, newest first within each.
    list = [...list.filter((r) => r.flaggedAt), ...list.filter((r) => !r.flaggedAt)];
    send(res, refundsPage(ctx(res), { status, flagged }, list, next, REFUND_STATUSES));
  });

  async function showRefund(res: Response, id: string, status?: SafeHtml) {
    const r = await deps.refunds.get(id);
    const exchanges = (await deps.evidenceFor(r.txnId)).filter((e) => e.channel === 'refund_api');
    send(res, refundPage(ctx(res), r, exchanges, status));
  }

  router.get('/console/refunds/:id', async (req, res) => {
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('refund');
    await showRefund(res, id);
  });

  router.post('/console/refunds/:id/resume', async (req, res) => {
    needRole(sess(res), 'operator');
    const id = cursor(req.params.id);
    if (!id) throw new NotFoundError('refund');
    const r = await deps.refunds.resume(id, actor(req, res));
    await showRefund(res, id, notice(html`${ctx(res).t('resumed')} ${r.status}`));
  });

  router.get('/console/attention', async (_req, res) => {
    const stuckSince = new Date(Date.now() - s.stuckAfterMs).toISOString().replace('T', ' ').replace('Z', '');
    const [credits, fatal, flagged, jetpay, qr, recon, flaggedPayments] = await Promise.all([
      deps.payments.unfinishedCredits(s.stuckAfterMs, 100),
      deps.refunds.list({ status: 'fatal', limit: 100 }),
      deps.refunds.list({ flagged: true, limit: 100 }),
      // A JetPay payment still waiting for its callback past the limit: its credit is in doubt.
      deps.payments.list({ source: 'jetpay', state: 'awaiting_callback', to: stuckSince, limit: 100 }),
      deps.queries.qrUnknown(),
      deps.reconcile ? deps.reconcile.service.todo({ state: 'open', severity: 'action' }) : [],
      // JetPay deposits and Kaspi QR purchases a channel flagged (PaymentFlags): newest first.
      deps.payments.list({ flagged: true, limit: 100 }),
    ]);
    const seen = new Set<string>();
    const refunds = [...flagged, ...fatal].filter((r) => !seen.has(r.id) && (seen.add(r.id), true));
    send(
      res,
      attentionPage(ctx(res), {
        stuck: credits.stuck,
        stuckCount: credits.stuckCount,
        refunds,
        jetpay,
        flagged: flaggedPayments,
        qr,
        recon: recon.slice(0, 100) as ItemView[],
      }),
    );
  });
}
