import { randomUUID } from 'node:crypto';
import type { Response, Router } from 'express';
import {
  PAYMENT_SOURCES,
  PAYMENT_STATES,
  type Payment,
  type PaymentSource,
  type PaymentState,
} from '../../payments/payment-store.js';
import { retryCreditNow } from '../../payments/retry-now.js';
import { refundable } from '../../refunds/refundable.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { parseTenge } from '../../shared/money.js';
import { needRole } from '../console-http.js';
import { localDateToUtc, localDayStart } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import {
  confirmRefundPage,
  notice,
  overviewPage,
  paymentPage,
  paymentsPage,
  type PaymentFilterForm,
} from '../pages/index.js';
import { paymentTimeline } from '../pages/timeline.js';
import { actor, ctx, cursor, one, PAGE, send, sess, type ConsoleDeps } from './common.js';
import { qrOfPayment } from './qr.js';

const SOURCES: readonly PaymentSource[] = PAYMENT_SOURCES;
const STATES: readonly PaymentState[] = PAYMENT_STATES;

/** Overview, Payments, a payment: its retry and its refund (the same RefundService as POST /api/refunds). */
export function registerPaymentsRoutes(router: Router, deps: ConsoleDeps): void {
  const s = deps.settings;
  router.get(['/console', '/console/'], async (_req, res) => {
    const now = new Date();
    const today = localDayStart(now, s.offset, 0);
    const yesterday = localDayStart(now, s.offset, 1);
    const tomorrow = localDayStart(new Date(now.getTime() + 86_400_000), s.offset, 0);
    const [t, y, answers, pending, refunds] = await Promise.all([
      deps.queries.bySource(today, tomorrow),
      deps.queries.bySource(yesterday, today),
      deps.queries.kaspiAnswers(today, tomorrow),
      deps.payments.unfinishedCredits(s.stuckAfterMs, 0),
      deps.queries.refundsByStatus(),
    ]);
    send(res, overviewPage(ctx(res), { today: t, yesterday: y, answers, pending, refunds }));
  });

  router.get('/console/payments', async (req, res) => {
    const q = req.query;
    const f: PaymentFilterForm = {
      q: one(q.q),
      from: one(q.from, 10),
      to: one(q.to, 10),
      source: SOURCES.includes(q.source as PaymentSource) ? (q.source as string) : undefined,
      state: STATES.includes(q.state as PaymentState) ? (q.state as string) : undefined,
      min: one(q.min, 20),
      max: one(q.max, 20),
    };
    const from = f.from ? localDateToUtc(f.from, s.offset) : null;
    const toDay = f.to ? localDateToUtc(f.to, s.offset) : null;
    const to = toDay ? new Date(toDay.getTime() + 86_400_000) : null;
    const minAmount = f.min ? parseTenge(f.min) : null;
    const maxAmount = f.max ? parseTenge(f.max) : null;
    if ((f.from && !from) || (f.to && !to)) throw new ValidationError('dates are YYYY-MM-DD');
    if ((f.min && minAmount === null) || (f.max && maxAmount === null))
      throw new ValidationError('amounts are tenge like 1500.00');
    const before = cursor(q.before);
    const filter = {
      from: from ? from.toISOString().replace('T', ' ').replace('Z', '') : undefined,
      to: to ? to.toISOString().replace('T', ' ').replace('Z', '') : undefined,
      source: f.source as PaymentSource | undefined,
      state: f.state as PaymentState | undefined,
      minAmount: minAmount ?? undefined,
      maxAmount: maxAmount ?? undefined,
    };
    let list: Payment[];
    let next: string | null = null;
    if (f.q) {
      // One box for every number a person may hold: Kaspi's txn_id, JetPay's or QR's id, our
      // prv_txn, or the account. The exact matches first, then the account's payments paged by key.
      const byAccount = await deps.payments.list({ ...filter, account: f.q, before, limit: PAGE });
      const exact = before
        ? []
        : [
            ...(await deps.payments.findByTxnAnySource(f.q)),
            ...(/^\d{1,20}$/.test(f.q) ? [await deps.payments.findById(f.q)] : []),
          ].filter((p): p is Payment => p !== null && matches(p, filter));
      const seen = new Set<string>();
      list = [...exact, ...byAccount].filter((p) => !seen.has(p.id) && (seen.add(p.id), true));
      next = byAccount.length === PAGE ? (byAccount.at(-1) as Payment).id : null;
    } else {
      list = await deps.payments.list({ ...filter, before, limit: PAGE });
      next = list.length === PAGE ? (list.at(-1) as Payment).id : null;
    }
    send(res, paymentsPage(ctx(res), f, list, next, before !== undefined));
  });

  async function paymentOr404(id: string): Promise<Payment> {
    const p = /^\d{1,20}$/.test(id) ? await deps.payments.findById(id) : null;
    if (!p) throw new NotFoundError('payment');
    return p;
  }

  async function showPayment(res: Response, p: Payment, status?: SafeHtml) {
    const c = ctx(res);
    const [refunds, evidence, audit, ledger, qr] = await Promise.all([
      deps.refunds.forPayment(p.id),
      deps.evidenceFor(p.txnId),
      deps.audit.forTarget('payment', p.id),
      deps.queries.paymentLedger(p.id),
      p.source === 'kaspi_qr' ? qrOfPayment(deps, p.id) : null,
    ]);
    const refundAudit = await Promise.all(refunds.map((r) => deps.audit.forTarget('refund', r.id)));
    const timeline = paymentTimeline(c, {
      payment: p,
      evidence,
      audit: [...audit, ...refundAudit.flat()],
      refunds,
      ledger,
    });
    send(
      res,
      paymentPage(
        c,
        { payment: p, refunds, refundable: refundable(p, refunds), evidence, timeline, qr },
        status,
      ),
    );
  }

  router.get('/console/payments/:id', async (req, res) => {
    const p = await paymentOr404(String(req.params.id));
    const c = ctx(res);
    const filed = cursor(req.query.filed);
    let status: SafeHtml | undefined;
    if (filed) {
      const r = await deps.refunds.get(filed).catch(() => null);
      if (r && r.paymentId === p.id) status = notice(html`${c.t('refundFiled')} ${r.status}`);
    }
    if (req.query.retried === '1') status = notice(html`${c.t('retryAsked')} ${p.state}`);
    await showPayment(res, p, status);
  });

  router.post('/console/payments/:id/retry', async (req, res) => {
    needRole(sess(res), 'operator');
    const p = await paymentOr404(String(req.params.id));
    await retryCreditNow(deps.retry, p.id, actor(req, res));
    res.redirect(303, `/console/payments/${p.id}?retried=1`);
  });

  router.post('/console/payments/:id/refund', async (req, res) => {
    needRole(sess(res), 'operator');
    const p = await paymentOr404(String(req.params.id));
    const b = req.body as Record<string, unknown>;
    const amountText = one(b.amount, 20) ?? '';
    const amount = parseTenge(amountText.replace(',', '.'));
    if (amount === null || amount <= 0) throw new ValidationError('the amount is tenge like 1500.00');
    const reason = one(b.reason, 500);
    if (!reason) throw new ValidationError('a reason is required (1 to 500 characters)');
    if (b.confirmed !== 'yes' || typeof b.key !== 'string' || !/^[\w-]{36}$/.test(b.key)) {
      // The confirmation step: the amount in words, and the key that makes a repeated POST
      // (a reload, a double click) the same refund instead of a second one.
      return send(res, confirmRefundPage(ctx(res), p, amount, amountText, reason, randomUUID()));
    }
    const { refund } = await deps.refunds.create({
      // A Kaspi QR purchase is returned through the same ledger (r3: payment/return), by its QrPaymentId.
      source: p.source === 'kaspi_qr' ? 'kaspi_qr' : undefined,
      txnId: p.txnId,
      amount,
      reason,
      idempotencyKey: `console:${b.key}`,
      createdBy: `console:${sess(res).login}`,
      actor: actor(req, res),
    });
    res.redirect(303, `/console/payments/${p.id}?filed=${refund.id}`);
  });
}

function matches(
  p: Payment,
  f: { from?: string; to?: string; source?: string; state?: string; minAmount?: number; maxAmount?: number },
): boolean {
  return (
    (!f.from || p.receivedAt >= f.from) &&
    (!f.to || p.receivedAt < f.to) &&
    (!f.source || p.source === f.source) &&
    (!f.state || p.state === f.state) &&
    (f.minAmount === undefined || p.amount >= f.minAmount) &&
    (f.maxAmount === undefined || p.amount <= f.maxAmount)
  );
}
