import type { EvidenceEntry } from '../../http/request-log-evidence.js';
import type { Payment } from '../../payments/payment-store.js';
import type { ReturnSessionRow } from '../../refunds/kaspi-qr-return-sessions.js';
import type { Refund } from '../../refunds/refund-store.js';
import { amountInWords } from '../format.js';
import { html, type HtmlValue, type SafeHtml } from '../html.js';
import type { MsgKey } from '../i18n.js';
import type { Session } from '../session-store.js';
import { roleAtLeast } from '../user-store.js';
import { csrfField, layout, money, stateText, table, time, type Ctx } from './layout.js';
import { returnSessionForm } from './qr-purchase.js';
import { refundHead, refundRows } from './refunds.js';
import { timelineSection, type TimelineEvent } from './timeline.js';

export interface PaymentPageData {
  payment: Payment;
  refunds: Refund[];
  refundable: number;
  evidence: EvidenceEntry[];
  timeline: TimelineEvent[];
  /** A Kaspi QR purchase's: which returns its scheme allows, and its return sessions. */
  qr?: { r3: boolean; r2: boolean; sessions: ReturnSessionRow[]; key: string } | null;
}

/** Tiyn as the form's `1500.00`. */
function tengeText(tiyn: number): string {
  return `${(BigInt(tiyn) / 100n).toString()}.${(BigInt(tiyn) % 100n).toString().padStart(2, '0')}`;
}

/** A Kaspi QR payment: its purchase, its return sessions, and (r2) the form that starts one. */
function qrPart(c: Ctx, d: PaymentPageData, canAct: boolean): SafeHtml | string {
  const p = d.payment;
  if (p.source !== 'kaspi_qr') return '';
  return html`<p><a href="${`/console/qr/${p.id}`}">${c.t('purchase')}</a></p>
    ${
      d.qr?.sessions.length
        ? html`<h3>${c.t('returnSessions')}</h3>
            <ul>
              ${d.qr.sessions.map(
                (r) =>
                  html`<li>
                    <a href="${`/console/qr/returns/${r.id}`}">${c.t('returnSessionTitle')} ${r.id}</a>:
                    ${money(c, r.amount)}, ${stateText(r.state)}
                  </li>`,
              )}
            </ul>`
        : ''
    }
    ${
      canAct && d.qr?.r2 && d.refundable > 0 && p.state === 'credited'
        ? returnSessionForm(c, p.id, tengeText(d.refundable), d.qr.key)
        : ''
    }
    ${
      // r1 has no return API at all (kaspi-qr.md): say where it is done instead of showing nothing.
      d.qr && !d.qr.r2 && !d.qr.r3 && d.refundable > 0 && p.state === 'credited'
        ? html`<p class="hint">${c.t('r1ReturnHint')}</p>`
        : ''
    }`;
}

export function paymentPage(c: Ctx, d: PaymentPageData, status?: SafeHtml): SafeHtml {
  const p = d.payment;
  const s = c.session as Session;
  const field = (k: MsgKey, v: HtmlValue) =>
    html`<dt>${c.t(k)}</dt>
      <dd>${v ?? ''}</dd>`;
  const canAct = roleAtLeast(s.role, 'operator');
  return layout(
    c,
    `${c.t('payment')} ${p.txnId}`,
    html`<h1>${c.t('payment')} <span class="txn">${p.txnId}</span></h1>
      <section aria-labelledby="fields-h">
        <h2 id="fields-h">${c.t('paymentFields')}</h2>
        <dl class="fields">
          ${field('txnId', p.txnId)}${field('prvTxn', p.id)}${field('source', p.source)}${field('account', p.account)}
          ${field('amount', money(c, p.amount))}${field('state', stateText(p.state))}${field('result', p.result)}
          ${field('comment', p.comment)}${field('txnDate', p.txnDateRaw ? `${p.txnDateRaw} (${time(c, p.txnDate)})` : '')}
          ${field('received', time(c, p.receivedAt))}${field('credited', time(c, p.creditedAt))}
          ${field('billingRef', p.billingRef)}${field('order', p.orderNumber)}${field('attempts', p.attempts)}
          ${field('nextAttempt', time(c, p.nextAttemptAt))}${field('lastError', p.lastError)}
          ${
            p.extra
              ? field(
                  'extra',
                  Object.entries(p.extra).map(([k, v]) => html`${k}=${v}<br />`),
                )
              : ''
          }
        </dl>
        ${
          canAct && p.state === 'pending'
            ? html`<form method="post" action="${`/console/payments/${p.id}/retry`}">
                ${csrfField(c)}<button type="submit">${c.t('retryCredit')}</button>
              </form>`
            : ''
        }
      </section>
      <section aria-labelledby="refunds-h">
        <h2 id="refunds-h">${c.t('refundsOfPayment')}</h2>
        <p>${c.t('refundable')}: <strong>${money(c, d.refundable)}</strong></p>
        ${table(null, refundHead(c), refundRows(c, d.refunds), c.t('noRefunds'))} ${qrPart(c, d, canAct)}
        ${
          canAct && d.refundable > 0 && p.state === 'credited' && (p.source !== 'kaspi_qr' || d.qr?.r3)
            ? c.refundsEnabled
              ? html`<h3>${c.t('refund')}</h3>
                  <form method="post" action="${`/console/payments/${p.id}/refund`}" class="filters">
                    ${csrfField(c)}
                    <div>
                      <label for="amount">${c.t('amount')}</label
                      ><input
                        id="amount"
                        name="amount"
                        inputmode="decimal"
                        required
                        size="12"
                        value="${tengeText(d.refundable)}"
                      />
                    </div>
                    <div>
                      <label for="reason">${c.t('reason')}</label
                      ><input id="reason" name="reason" required maxlength="500" size="40" />
                    </div>
                    <button type="submit">${c.t('fileRefund')}</button>
                  </form>`
              : html`<p class="muted">${c.t('refundsOff')}</p>`
            : ''
        }
      </section>
      <section aria-labelledby="rl-h">
        <h2 id="rl-h">${c.t('requestLog')}</h2>
        ${table(
          null,
          [
            c.t('time'),
            c.t('channel'),
            c.t('callerIp'),
            c.t('command'),
            c.t('request'),
            c.t('httpStatus'),
            c.t('result'),
            c.t('ourAnswer'),
            c.t('duration'),
          ],
          d.evidence.map((e) => [
            time(c, e.at),
            e.channel,
            e.clientIp,
            e.command,
            html`<pre>${e.method ? `${e.method} ` : ''}${e.request ?? ''}</pre>`,
            e.httpStatus,
            e.result,
            html`<pre>${e.response ?? ''}</pre>`,
            e.durationMs,
          ]),
          c.t('noRequestLog'),
        )}
      </section>
      ${timelineSection(c, d.timeline)}`,
    status,
  );
}

export function confirmRefundPage(
  c: Ctx,
  p: Payment,
  amount: number,
  amountText: string,
  reason: string,
  key: string,
): SafeHtml {
  return layout(
    c,
    c.t('confirmRefundTitle'),
    html`<h1>${c.t('confirmRefundTitle')}</h1>
      <p>
        ${c.t('confirmRefundText')} <strong>${money(c, amount)}</strong> — ${c.t('payment')} ${p.txnId},
        ${c.t('account')} ${p.account}.
      </p>
      <p>${c.t('inWords')}: <strong>${amountInWords(amount, c.lang)}</strong></p>
      <p>${c.t('reason')}: ${reason}</p>
      <form method="post" action="${`/console/payments/${p.id}/refund`}">
        ${csrfField(c)}
        <input type="hidden" name="amount" value="${amountText}" />
        <input type="hidden" name="reason" value="${reason}" />
        <input type="hidden" name="confirmed" value="yes" />
        <input type="hidden" name="key" value="${key}" />
        <button type="submit" class="danger">${c.t('confirmRefund')}</button>
        <a href="${`/console/payments/${p.id}`}">${c.t('cancel')}</a>
      </form>`,
  );
}
