import { PAYMENT_SOURCES, PAYMENT_STATES, type Payment } from '../../payments/payment-store.js';
import { html, query, type SafeHtml } from '../html.js';
import { layout, money, select, stateText, table, time, type Ctx } from './layout.js';

// The payments' own lists, as strings for the filter's <select>.
const SOURCES: readonly string[] = PAYMENT_SOURCES;
const STATES: readonly string[] = PAYMENT_STATES;

export interface PaymentFilterForm {
  q?: string;
  from?: string;
  to?: string;
  source?: string;
  state?: string;
  min?: string;
  max?: string;
}

// The payments' own lists, as strings for the filter's <select>.
export function paymentsPage(
  c: Ctx,
  f: PaymentFilterForm,
  list: Payment[],
  next: string | null,
  paged: boolean,
): SafeHtml {
  const params = { ...f } as Record<string, string | undefined>;
  return layout(
    c,
    c.t('payments'),
    html`<h1>${c.t('payments')}</h1>
      <form class="filters" method="get" action="/console/payments" role="search">
        <div>
          <label for="q">${c.t('search')}</label
          ><input
            id="q"
            name="q"
            type="search"
            value="${f.q ?? ''}"
            maxlength="200"
            aria-describedby="q-hint"
          /><span id="q-hint" class="muted">${c.t('searchHint')}</span>
        </div>
        <div>
          <label for="from">${c.t('from')}</label
          ><input id="from" name="from" type="date" value="${f.from ?? ''}" />
        </div>
        <div>
          <label for="to">${c.t('to')}</label><input id="to" name="to" type="date" value="${f.to ?? ''}" />
        </div>
        ${select('source', c.t('source'), c.t('any'), SOURCES, f.source)}
        ${select('state', c.t('state'), c.t('any'), STATES, f.state)}
        <div>
          <label for="min">${c.t('minAmount')}</label
          ><input id="min" name="min" inputmode="decimal" size="10" value="${f.min ?? ''}" />
        </div>
        <div>
          <label for="max">${c.t('maxAmount')}</label
          ><input id="max" name="max" inputmode="decimal" size="10" value="${f.max ?? ''}" />
        </div>
        <button type="submit">${c.t('apply')}</button>
      </form>
      ${table(
        null,
        [
          c.t('received'),
          c.t('txnId'),
          c.t('prvTxn'),
          c.t('source'),
          c.t('account'),
          c.t('amount'),
          c.t('state'),
        ],
        list.map((p) => [
          time(c, p.receivedAt),
          html`<a href="${`/console/payments/${p.id}`}">${p.txnId}</a>`,
          p.id,
          p.source,
          p.account,
          html`<span class="num">${money(c, p.amount)}</span>`,
          stateText(p.state),
        ]),
        c.t('noPayments'),
      )}
      <p>
        ${paged ? html`<a href="${`/console/payments${query({ ...params })}`}">${c.t('firstPage')}</a> ` : ''}${
          next
            ? html`<a href="${`/console/payments${query({ ...params, before: next })}`}" rel="next"
                >${c.t('nextPage')}</a
              >`
            : ''
        }
      </p>`,
  );
}
