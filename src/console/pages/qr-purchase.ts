import { creditOf, displayDeadline } from '../../kaspi-qr/kaspi-qr-view.js';
import type { PurchaseWithPayment } from '../../kaspi-qr/kaspi-qr-store.js';
import type { ReturnSessionRow } from '../../refunds/kaspi-qr-return-sessions.js';
import { html, type SafeHtml } from '../html.js';
import type { Session } from '../session-store.js';
import { roleAtLeast } from '../user-store.js';
import { csrfField, field, layout, money, stateText, time, type Ctx } from './layout.js';

/**
 * A Kaspi QR purchase for the cashier's screen (the QR to scan, or the link), with a remote
 * invoice's "check with Kaspi" and "cancel"; and a return session's return QR and page. The QR
 * images are SVG rendered by us (kaspi-qr-view's qrSvg) and shown as data: images, which the
 * CSP allows (img-src 'self' data:) and which keep every page value escaped.
 */

export function svgDataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}

const OPEN = ['pending', 'scanned', 'unknown'];

export function qrPurchasePage(
  c: Ctx,
  p: PurchaseWithPayment,
  view: { payUrl: string; svg: string | null; remoteEnabled: boolean },
  status?: SafeHtml,
): SafeHtml {
  const s = c.session as Session;
  const canAct = roleAtLeast(s.role, 'operator') && p.kind === 'remote' && view.remoteEnabled;
  const open = OPEN.includes(p.state);
  return layout(
    c,
    `${c.t('purchase')} ${p.qrPaymentId}`,
    html`<h1>${c.t('purchase')} <span class="txn">${p.qrPaymentId}</span></h1>
      <div class="row">
        <section>
          <dl class="fields">
            ${field(c, 'kind', c.t(`kind_${p.kind}`))}${field(c, 'state', stateText(p.state))}
            ${field(c, 'credited', creditOf(p) ?? '')}${field(c, 'account', p.account)}
            ${field(c, 'amount', money(c, p.amount))}${field(c, 'kaspiStatus', p.kaspiStatus)}
            ${field(c, 'created', time(c, p.createdAt.toISOString()))}
            ${field(c, 'expiresAt', time(c, displayDeadline(p).toISOString()))}
            ${p.phoneMasked ? field(c, 'phone', p.phoneMasked) : ''}
            ${field(c, 'payPage', html`<a href="${view.payUrl}">${view.payUrl}</a>`)}
            ${p.paymentLink ? field(c, 'payLink', html`<a href="${p.paymentLink}">${p.paymentLink}</a>`) : ''}
            ${field(c, 'lastError', p.lastError)}${p.flag ? field(c, 'flagged', p.flag) : ''}
            ${field(c, 'payment', html`<a href="${`/console/payments/${p.paymentId}`}">${p.paymentId}</a>`)}
          </dl>
          ${
            canAct && open
              ? html`<form method="post" action="${`/console/qr/${p.paymentId}/refresh`}">
                    ${csrfField(c)}<button type="submit">${c.t('refresh')}</button>
                  </form>
                  ${
                    p.state !== 'unknown'
                      ? html`<form method="post" action="${`/console/qr/${p.paymentId}/cancel`}">
                          ${csrfField(c)}<button type="submit" class="danger">${c.t('cancelInvoice')}</button>
                        </form>`
                      : ''
                  }`
              : ''
          }
        </section>
        ${
          view.svg && open
            ? html`<section>
                <img
                  class="qr"
                  src="${svgDataUri(view.svg)}"
                  alt="${c.t('qrImage')}"
                  width="280"
                  height="280"
                />
              </section>`
            : ''
        }
      </div>`,
    status,
  );
}

export function returnSessionPage(
  c: Ctx,
  r: ReturnSessionRow,
  view: { returnUrl: string; svg: string | null },
  status?: SafeHtml,
): SafeHtml {
  return layout(
    c,
    `${c.t('returnSessionTitle')} ${r.id}`,
    html`<h1>${c.t('returnSessionTitle')} ${r.id}</h1>
      <div class="row">
        <section>
          <dl class="fields">
            ${field(c, 'state', stateText(r.state))}${field(c, 'amount', money(c, r.amount))}
            ${field(c, 'txnId', html`<a href="${`/console/payments/${r.paymentId}`}">${r.txnId}</a>`)}
            ${field(c, 'reason', r.reason)}${field(c, 'createdBy', r.createdBy)}
            ${field(c, 'deadline', time(c, r.deadline.toISOString()))}${field(c, 'kaspiStatus', r.kaspiStatus)}
            ${field(c, 'returnUrl', html`<a href="${view.returnUrl}">${view.returnUrl}</a>`)}
            ${r.refundId ? field(c, 'refundId', html`<a href="${`/console/refunds/${r.refundId}`}">${r.refundId}</a>`) : ''}
            ${field(c, 'lastError', r.lastError)}
          </dl>
          ${
            // The engine follows the session with Kaspi; this page shows what it knows when loaded.
            r.state === 'pending'
              ? html`<p>${c.t('returnPendingHint')}</p>
                  <p><a href="${`/console/qr/returns/${r.id}`}">${c.t('refreshState')}</a></p>`
              : ''
          }
        </section>
        ${
          view.svg && r.state === 'pending'
            ? html`<section>
                <img
                  class="qr"
                  src="${svgDataUri(view.svg)}"
                  alt="${c.t('returnQr')}"
                  width="280"
                  height="280"
                />
              </section>`
            : ''
        }
      </div>`,
    status,
  );
}

/** On a Kaspi QR payment's page (r2): a return with the payer present starts a return session. */
export function returnSessionForm(c: Ctx, paymentId: string, left: string, key: string): SafeHtml {
  return html`<h3>${c.t('returnSession')}</h3>
    <form method="post" action="${`/console/payments/${paymentId}/return-session`}" class="filters">
      ${csrfField(c)}<input type="hidden" name="key" value="${key}" />
      <div>
        <label for="rs-amount">${c.t('amount')}</label
        ><input id="rs-amount" name="amount" inputmode="decimal" required size="12" value="${left}" />
      </div>
      <div>
        <label for="rs-reason">${c.t('reason')}</label
        ><input id="rs-reason" name="reason" required maxlength="500" size="40" />
      </div>
      <button type="submit">${c.t('startReturn')}</button>
    </form>`;
}
