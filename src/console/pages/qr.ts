import type { PurchaseWithPayment } from '../../kaspi-qr/kaspi-qr-store.js';
import { html, type SafeHtml } from '../html.js';
import type { Session } from '../session-store.js';
import { roleAtLeast } from '../user-store.js';
import { csrfField, layout, money, select, stateText, table, time, type Ctx } from './layout.js';

/** What the Kaspi QR pages know of the setup: off, or the scheme and what it allows. */
export interface QrSetup {
  enabled: boolean;
  /** r3 only: invoices pushed to the payer's phone. */
  remote: boolean;
}

function createForm(c: Ctx, setup: QrSetup, key: string): SafeHtml {
  const kinds = setup.remote ? ['qr', 'link', 'remote'] : ['qr', 'link'];
  return html`<section aria-labelledby="mk-h">
    <h2 id="mk-h">${c.t('makeQr')}</h2>
    <form method="post" action="/console/qr" class="filters">
      ${csrfField(c)}<input type="hidden" name="key" value="${key}" />
      <div>
        <label for="mk-account">${c.t('account')}</label
        ><input id="mk-account" name="account" required maxlength="200" />
      </div>
      <div>
        <label for="mk-amount">${c.t('amount')}</label
        ><input id="mk-amount" name="amount" required inputmode="decimal" size="12" />
      </div>
      <div>
        <label for="mk-kind">${c.t('qrKind')}</label
        ><select id="mk-kind" name="kind">
          ${kinds.map((k) => html`<option value="${k}">${c.t(`kind_${k}` as 'kind_qr')}</option>`)}
        </select>
      </div>
      ${
        setup.remote
          ? html`<div>
              <label for="mk-phone">${c.t('phone')}</label
              ><input id="mk-phone" name="phone" type="tel" autocomplete="off" maxlength="30" />
            </div>`
          : ''
      }
      <button type="submit">${c.t('create')}</button>
    </form>
  </section>`;
}

export function qrPage(
  c: Ctx,
  f: { state?: string; account?: string },
  list: PurchaseWithPayment[],
  states: readonly string[],
  setup: QrSetup = { enabled: false, remote: false },
  key = '',
): SafeHtml {
  const s = c.session as Session;
  return layout(
    c,
    c.t('kaspiQr'),
    html`<h1>${c.t('kaspiQr')}</h1>
      ${
        !setup.enabled
          ? html`<p class="muted">${c.t('kaspiQrOff')}</p>`
          : roleAtLeast(s.role, 'operator')
            ? createForm(c, setup, key)
            : ''
      }
      <form class="filters" method="get" action="/console/qr">
        ${select('state', c.t('state'), c.t('any'), [...states], f.state)}
        <div>
          <label for="qr-account">${c.t('account')}</label
          ><input id="qr-account" name="account" value="${f.account ?? ''}" maxlength="200" />
        </div>
        <button type="submit">${c.t('apply')}</button>
      </form>
      ${table(
        null,
        [
          c.t('created'),
          c.t('qrId'),
          c.t('kind'),
          c.t('account'),
          c.t('amount'),
          c.t('state'),
          c.t('credited'),
          c.t('lastError'),
        ],
        list.map((q) => [
          time(c, q.createdAt.toISOString()),
          html`<a href="${`/console/qr/${q.paymentId}`}">${q.qrPaymentId}</a>`,
          q.kind,
          q.account,
          money(c, q.amount),
          stateText(q.state),
          stateText(q.paymentState),
          q.lastError,
        ]),
        c.t('none'),
      )}`,
  );
}
