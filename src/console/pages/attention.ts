import type { PurchaseWithPayment } from '../../kaspi-qr/kaspi-qr-store.js';
import type { Payment } from '../../payments/payment-store.js';
import type { Refund } from '../../refunds/refund-store.js';
import { html, type HtmlValue, type SafeHtml } from '../html.js';
import type { MsgKey } from '../i18n.js';
import { layout, money, stateText, table, time, type Ctx } from './layout.js';
import { reconItemsTable, type ItemView } from './reconcile.js';
import { refundHead, refundRows } from './refunds.js';

export interface AttentionData {
  stuck: Payment[];
  stuckCount: number;
  refunds: Refund[];
  jetpay: Payment[];
  /** Payments carrying a flag, newest first. */
  flagged: Payment[];
  qr: PurchaseWithPayment[];
  /** Open reconciliation items that need a person, earliest due first. */
  recon: ItemView[];
}

/** Payments a person must look at: the same columns, the last one saying why. */
function paymentTable(c: Ctx, list: Payment[], why: MsgKey, reason: (p: Payment) => HtmlValue): SafeHtml {
  return table(
    null,
    [c.t('received'), c.t('txnId'), c.t('source'), c.t('account'), c.t('amount'), c.t('state'), c.t(why)],
    list.map((p) => [
      time(c, p.receivedAt),
      html`<a href="${`/console/payments/${p.id}`}">${p.txnId}</a>`,
      p.source,
      p.account,
      money(c, p.amount),
      stateText(p.state),
      reason(p),
    ]),
    c.t('nothingToDo'),
  );
}

export function attentionPage(c: Ctx, d: AttentionData): SafeHtml {
  return layout(
    c,
    c.t('attention'),
    html`<h1>${c.t('attention')}</h1>
      <p>${c.t('attentionIntro')}</p>
      <h2>${c.t('reconItemsOpen')}</h2>
      ${reconItemsTable(c, d.recon)}
      <h2>${c.t('flaggedRefunds')}</h2>
      ${table(
        null,
        [c.t('txnId'), ...refundHead(c)],
        d.refunds.map((r) => [
          html`<a href="${`/console/payments/${r.paymentId}`}">${r.txnId}</a>`,
          ...(refundRows(c, [r])[0] as HtmlValue[]),
        ]),
        c.t('nothingToDo'),
      )}
      <h2>${c.t('stuckCredits')} (${d.stuckCount})</h2>
      ${paymentTable(c, d.stuck, 'lastError', (p) => p.lastError)}
      <h2>${c.t('flaggedPayments')}</h2>
      ${paymentTable(c, d.flagged, 'flags', (p) => p.flags.join(', '))}
      <h2>${c.t('flaggedJetpay')}</h2>
      ${table(
        null,
        [c.t('received'), c.t('txnId'), c.t('account'), c.t('amount'), c.t('state')],
        d.jetpay.map((p) => [
          time(c, p.receivedAt),
          html`<a href="${`/console/payments/${p.id}`}">${p.txnId}</a>`,
          p.account,
          money(c, p.amount),
          stateText(p.state),
        ]),
        c.t('nothingToDo'),
      )}
      <h2>${c.t('qrUnknown')}</h2>
      ${table(
        null,
        [c.t('created'), c.t('qrId'), c.t('account'), c.t('amount'), c.t('state')],
        d.qr.map((q) => [
          time(c, q.createdAt.toISOString()),
          html`<a href="${`/console/payments/${q.paymentId}`}">${q.qrPaymentId}</a>`,
          q.account,
          money(c, q.amount),
          stateText(q.state),
        ]),
        c.t('nothingToDo'),
      )}`,
  );
}
