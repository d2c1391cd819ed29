import type { Account, Order } from '../../billing/account-store.js';
import type { LedgerLine } from '../console-queries.js';
import { html, query, type HtmlValue, type SafeHtml } from '../html.js';
import type { MsgKey } from '../i18n.js';
import type { Session } from '../session-store.js';
import { roleAtLeast } from '../user-store.js';
import { csrfField, layout, money, stateText, table, time, type Ctx } from './layout.js';

export function accountsPage(
  c: Ctx,
  q: string | undefined,
  accounts: Account[],
  orders: Order[],
  status?: SafeHtml,
): SafeHtml {
  const s = c.session as Session;
  const canAct = roleAtLeast(s.role, 'operator');
  const show = (a: string) => `/console/accounts/show${query({ account: a })}`;
  return layout(
    c,
    c.t('accounts'),
    html`<h1>${c.t('accounts')}</h1>
      <form class="filters" method="get" action="/console/accounts" role="search">
        <div>
          <label for="aq">${c.t('search')}</label
          ><input id="aq" name="q" type="search" value="${q ?? ''}" maxlength="200" />
        </div>
        <button type="submit">${c.t('apply')}</button>
      </form>
      ${table(
        null,
        [c.t('account'), c.t('name'), c.t('balance'), c.t('status'), c.t('created')],
        accounts.map((a) => [
          html`<a href="${show(a.account)}">${a.account}</a>`,
          a.name,
          money(c, a.balance),
          stateText(a.status),
          time(c, a.createdAt),
        ]),
        c.t('none'),
      )}
      ${
        canAct
          ? html`<h2>${c.t('addAccount')}</h2>
              <form method="post" action="/console/accounts" class="filters">
                ${csrfField(c)}
                <div>
                  <label for="new-account">${c.t('account')}</label
                  ><input id="new-account" name="account" required maxlength="200" />
                </div>
                <div>
                  <label for="new-name">${c.t('name')}</label
                  ><input id="new-name" name="name" maxlength="200" />
                </div>
                <button type="submit">${c.t('add')}</button>
              </form>`
          : ''
      }
      <h2>${c.t('orders')}</h2>
      ${table(
        null,
        [c.t('order'), c.t('account'), c.t('amount'), c.t('paid'), c.t('status'), c.t('description'), ''],
        orders.map((o) => [
          o.number,
          o.account ? html`<a href="${show(o.account)}">${o.account}</a>` : '',
          money(c, o.amount),
          money(c, o.paidAmount),
          stateText(o.status),
          o.description,
          canAct && o.status === 'open'
            ? html`<form method="post" action="/console/orders/close">
                ${csrfField(c)}<input type="hidden" name="number" value="${o.number}" /><button
                  type="submit"
                  class="secondary"
                >
                  ${c.t('closeOrder')} ${o.number}
                </button>
              </form>`
            : '',
        ]),
        c.t('none'),
      )}
      ${
        canAct
          ? html`<h2>${c.t('addOrder')}</h2>
              <form method="post" action="/console/orders" class="filters">
                ${csrfField(c)}
                <div>
                  <label for="order-number">${c.t('order')}</label
                  ><input id="order-number" name="number" required maxlength="200" />
                </div>
                <div>
                  <label for="order-amount">${c.t('amount')}</label
                  ><input id="order-amount" name="amount" required inputmode="decimal" size="12" />
                </div>
                <div>
                  <label for="order-account">${c.t('account')}</label
                  ><input id="order-account" name="account" maxlength="200" />
                </div>
                <div>
                  <label for="order-description">${c.t('description')}</label
                  ><input id="order-description" name="description" maxlength="200" />
                </div>
                <button type="submit">${c.t('add')}</button>
              </form>`
          : ''
      }`,
    status,
  );
}

export function accountPage(c: Ctx, a: Account, ledger: LedgerLine[], status?: SafeHtml): SafeHtml {
  const s = c.session as Session;
  const field = (k: MsgKey, v: HtmlValue) =>
    html`<dt>${c.t(k)}</dt>
      <dd>${v ?? ''}</dd>`;
  const close = a.status === 'active';
  return layout(
    c,
    `${c.t('account')} ${a.account}`,
    html`<h1>${c.t('account')} <span>${a.account}</span></h1>
      <dl class="fields">
        ${field('name', a.name)}${field('balance', money(c, a.balance))}${field('status', stateText(a.status))}
        ${field('created', time(c, a.createdAt))}
      </dl>
      <p><a href="${`/console/payments${query({ q: a.account })}`}">${c.t('payments')}</a></p>
      ${
        roleAtLeast(s.role, 'operator')
          ? html`<form method="post" action="/console/accounts/status">
              ${csrfField(c)}<input type="hidden" name="account" value="${a.account}" /><input
                type="hidden"
                name="status"
                value="${close ? 'closed' : 'active'}"
              /><button type="submit" class="secondary">
                ${close ? c.t('closeAccount') : c.t('reopenAccount')}
              </button>
            </form>`
          : ''
      }
      <h2>${c.t('ledger')}</h2>
      ${table(
        null,
        [c.t('time'), c.t('kind'), c.t('amount'), c.t('prvTxn'), c.t('order'), c.t('reference')],
        ledger.map((l) => [
          time(c, l.createdAt),
          l.kind,
          money(c, l.amount),
          html`<a href="${`/console/payments/${l.paymentId}`}">${l.paymentId}</a>`,
          l.orderNumber,
          l.ref,
        ]),
        c.t('noEntries'),
      )}`,
    status,
  );
}
