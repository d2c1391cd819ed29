import type { EvidenceEntry } from '../../http/request-log-evidence.js';
import type { Refund } from '../../refunds/refund-store.js';
import { html, query, type HtmlValue, type SafeHtml } from '../html.js';
import type { MsgKey } from '../i18n.js';
import type { Session } from '../session-store.js';
import { roleAtLeast } from '../user-store.js';
import { csrfField, layout, money, select, stateText, table, time, type Ctx } from './layout.js';

export function refundRows(c: Ctx, refunds: Refund[]): HtmlValue[][] {
  return refunds.map((r) => [
    html`<a href="${`/console/refunds/${r.id}`}">${r.id}</a>`,
    time(c, r.createdAt),
    html`<span class="num">${money(c, r.amount)}</span>`,
    stateText(r.status),
    r.flaggedAt ? html`${c.t('flagged')}: ${r.flagReason ?? ''}` : '',
    r.reason,
    r.createdBy,
  ]);
}

export function refundHead(c: Ctx): string[] {
  return [
    c.t('refundId'),
    c.t('created'),
    c.t('amount'),
    c.t('status'),
    c.t('problem'),
    c.t('reason'),
    c.t('createdBy'),
  ];
}

export function refundsPage(
  c: Ctx,
  f: { status?: string; flagged?: boolean },
  list: Refund[],
  next: string | null,
  statuses: readonly string[],
): SafeHtml {
  return layout(
    c,
    c.t('refunds'),
    html`<h1>${c.t('refunds')}</h1>
      <form class="filters" method="get" action="/console/refunds">
        ${select('status', c.t('status'), c.t('allStates'), [...statuses], f.status)}
        <div>
          <label for="flagged">${c.t('flaggedOnly')}</label
          ><input
            id="flagged"
            name="flagged"
            type="checkbox"
            value="true"
            ${f.flagged ? html` checked` : ''}
          />
        </div>
        <button type="submit">${c.t('apply')}</button>
      </form>
      ${table(
        null,
        [c.t('txnId'), ...refundHead(c)],
        list.map((r) => [
          html`<a href="${`/console/payments/${r.paymentId}`}">${r.txnId}</a>`,
          ...(refundRows(c, [r])[0] as HtmlValue[]),
        ]),
        c.t('noRefunds'),
      )}
      ${next ? html`<p><a href="${`/console/refunds${query({ status: f.status, flagged: f.flagged ? 'true' : undefined, before: next })}`}" rel="next">${c.t('nextPage')}</a></p>` : ''}`,
  );
}

export function refundPage(c: Ctx, r: Refund, exchanges: EvidenceEntry[], status?: SafeHtml): SafeHtml {
  const s = c.session as Session;
  const field = (k: MsgKey, v: HtmlValue) =>
    html`<dt>${c.t(k)}</dt>
      <dd>${v ?? ''}</dd>`;
  return layout(
    c,
    `${c.t('refundId')} ${r.id}`,
    html`<h1>${c.t('refundId')} ${r.id}</h1>
      <dl class="fields">
        ${field('txnId', html`<a href="${`/console/payments/${r.paymentId}`}">${r.txnId}</a>`)}${field('account', r.account)}
        ${field('amount', money(c, r.amount))}${field('status', stateText(r.status))}${field('kaspiStatus', r.kaspiStatus)}
        ${field('reason', r.reason)}${field('createdBy', r.createdBy)}${field('created', time(c, r.createdAt))}
        ${field('finished', time(c, r.finishedAt))}${field('problem', r.lastProblem ?? r.errorMessage)}
        ${field('flagged', r.flaggedAt ? `${time(c, r.flaggedAt)}: ${r.flagReason ?? ''}` : c.t('no'))}
      </dl>
      ${
        roleAtLeast(s.role, 'operator') && (r.flaggedAt || r.status === 'fatal')
          ? html`<form method="post" action="${`/console/refunds/${r.id}/resume`}">
              ${csrfField(c)}<button type="submit">${c.t('resume')}</button>
            </form>`
          : ''
      }
      <h2>${c.t('requestLog')}</h2>
      ${table(
        null,
        [c.t('time'), c.t('command'), c.t('request'), c.t('httpStatus'), c.t('ourAnswer')],
        exchanges.map((e) => [
          time(c, e.at),
          e.command,
          html`<pre>${e.request ?? ''}</pre>`,
          e.httpStatus,
          html`<pre>${e.response ?? ''}</pre>`,
        ]),
        c.t('noEntries'),
      )}`,
    status,
  );
}
