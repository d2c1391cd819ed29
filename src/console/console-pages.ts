import type { AuditEntry } from '../audit/audit-log.js';
import type { EvidenceEntry } from '../http/request-log-evidence.js';
import { PAYMENT_SOURCES, PAYMENT_STATES, type Payment } from '../payments/payment-store.js';
import type { Refund } from '../refunds/refund-store.js';
import { ASSETS } from './assets.js';
import { amountInWords, formatAmount, formatTime, type Lang } from './format.js';
import { html, query, type HtmlValue, type SafeHtml } from './html.js';
import type { MsgKey, T } from './i18n.js';
import type { Account, Order } from '../billing/account-store.js';
import type { PurchaseWithPayment } from '../kaspi-qr/kaspi-qr-store.js';
import type { LedgerLine, ResultCount, SourceDay } from './console-queries.js';
import type { Session } from './session-store.js';
import { roleAtLeast, type ConsoleUser, type Role } from './user-store.js';

/** What a page is rendered with. */
export interface Ctx {
  t: T;
  lang: Lang;
  /** KASPI_TXN_DATE_OFFSET: times are shown in Kazakhstan time. */
  offset: string;
  session: Session | null;
  /** The path asked for (the current navigation link). */
  path: string;
  /** Payments and refunds are refunded through Kaspi's Refund API; off without it. */
  refundsEnabled: boolean;
}

export const money = (c: Ctx, tiyn: number | string) => formatAmount(tiyn, c.lang);
export const time = (c: Ctx, utc: string | null | undefined) => formatTime(utc, c.offset, c.lang);

const NAV: { key: MsgKey; href: string; role: Role }[] = [
  { key: 'overview', href: '/console', role: 'viewer' },
  { key: 'payments', href: '/console/payments', role: 'viewer' },
  { key: 'refunds', href: '/console/refunds', role: 'viewer' },
  { key: 'attention', href: '/console/attention', role: 'viewer' },
  { key: 'kaspiQr', href: '/console/qr', role: 'viewer' },
  { key: 'accounts', href: '/console/accounts', role: 'viewer' },
  { key: 'auditLog', href: '/console/audit', role: 'admin' },
  { key: 'users', href: '/console/users', role: 'admin' },
];

function current(c: Ctx, href: string): boolean {
  return href === '/console' ? c.path === '/console' || c.path === '/console/' : c.path.startsWith(href);
}

export function csrfField(c: Ctx): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${c.session?.csrfToken ?? ''}" />`;
}

function langSwitch(c: Ctx): SafeHtml {
  const other: Lang = c.lang === 'ru' ? 'en' : 'ru';
  if (!c.session) {
    return html`<a href="${`${c.path}${query({ lang: other })}`}" lang="${other}"
      >${c.t('switchLanguage')}</a
    >`;
  }
  return html`<form method="post" action="/console/lang">
    ${csrfField(c)}<input type="hidden" name="lang" value="${other}" />
    <input type="hidden" name="back" value="${c.path}" />
    <button type="submit" class="secondary" lang="${other}">${c.t('switchLanguage')}</button>
  </form>`;
}

export function layout(c: Ctx, title: string, body: SafeHtml, status?: SafeHtml): SafeHtml {
  const s = c.session;
  return html`<!doctype html>
    <html lang="${c.lang}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · ${c.t('appName')}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="${ASSETS.css.path}" />
        <script src="${ASSETS.js.path}" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">${c.t('skipToContent')}</a>
        <header>
          <span class="brand">${c.t('appName')}</span>
          ${langSwitch(c)}
          ${
            s
              ? html`<span>${c.t('signedInAs')} <strong>${s.login}</strong> (${c.t(`role_${s.role}`)})</span>
                  <form method="post" action="/console/sign-out">
                    ${csrfField(c)}<button type="submit" class="secondary">${c.t('signOut')}</button>
                  </form>`
              : ''
          }
        </header>
        ${
          s
            ? html`<nav aria-label="${c.t('nav')}">
                <ul>
                  ${NAV.filter((n) => roleAtLeast(s.role, n.role)).map(
                    (n) =>
                      html`<li>
                        <a href="${n.href}" ${current(c, n.href) ? html` aria-current="page"` : ''}
                          >${c.t(n.key)}</a
                        >
                      </li>`,
                  )}
                </ul>
              </nav>`
            : ''
        }
        <main id="main">${status ?? ''} ${body}</main>
        <footer>${c.t('times')} (UTC${c.offset.replace(':00', '')}).</footer>
      </body>
    </html>`;
}

export function notice(text: HtmlValue, kind: 'notice' | 'error' = 'notice'): SafeHtml {
  return html`<p class="${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

export function signInPage(c: Ctx, opts: { error?: string; login?: string; next?: string }): SafeHtml {
  return layout(
    c,
    c.t('signIn'),
    html`<div class="signin">
      <h1>${c.t('signInTitle')}</h1>
      ${opts.error ? notice(opts.error, 'error') : ''}
      <form method="post" action="/console/sign-in">
        <input type="hidden" name="next" value="${opts.next ?? ''}" />
        <div>
          <label for="login">${c.t('login')}</label>
          <input
            id="login"
            name="login"
            autocomplete="username"
            required
            maxlength="64"
            value="${opts.login ?? ''}"
            autofocus
          />
        </div>
        <div>
          <label for="password">${c.t('password')}</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            maxlength="1024"
          />
        </div>
        <button type="submit">${c.t('signIn')}</button>
      </form>
    </div>`,
  );
}

export function errorPage(c: Ctx, title: string, message: string): SafeHtml {
  return layout(
    c,
    title,
    html`<h1>${title}</h1>
      ${notice(message, 'error')}
      <p><a href="/console">${c.t('overview')}</a></p>`,
  );
}

function table(caption: string | null, head: HtmlValue[], rows: HtmlValue[][], empty: string): SafeHtml {
  if (rows.length === 0)
    return html`${caption ? html`<h2>${caption}</h2>` : ''}
      <p>${empty}</p>`;
  return html`<table>
    ${
      caption
        ? html`<caption class="muted">
            ${caption}
          </caption>`
        : ''
    }
    <thead>
      <tr>
        ${head.map((h) => html`<th scope="col">${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${r.map((d) => html`<td>${d}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function stateText(state: string): SafeHtml {
  return html`<span class="${`state-${state}`}">${state}</span>`;
}

export interface OverviewData {
  today: SourceDay[];
  yesterday: SourceDay[];
  answers: ResultCount[];
  pending: { count: number; oldestReceivedAt: string | null; stuckCount: number };
  refunds: { status: string; count: number; flagged: number }[];
}

export function overviewPage(c: Ctx, d: OverviewData): SafeHtml {
  const dayTable = (label: string, rows: SourceDay[]) =>
    html`<section>
      <h2>${label}</h2>
      ${table(
        null,
        [c.t('source'), c.t('count'), c.t('credited'), c.t('sumCredited')],
        rows.map((r) => [r.source, r.count, r.creditedCount, money(c, r.creditedSum)]),
        c.t('none'),
      )}
    </section>`;
  return layout(
    c,
    c.t('overview'),
    html`<h1>${c.t('overview')}</h1>
      <div class="row">${dayTable(c.t('today'), d.today)}${dayTable(c.t('yesterday'), d.yesterday)}</div>
      <div class="row">
        <section>
          <h2>${c.t('answersByResult')} (${c.t('today')})</h2>
          ${table(
            null,
            [c.t('command'), c.t('resultCode'), c.t('count')],
            d.answers.map((a) => [a.command, a.result, a.count]),
            c.t('none'),
          )}
        </section>
        <section>
          <h2>${c.t('pendingCredits')}</h2>
          <dl class="fields">
            <dt>${c.t('count')}</dt>
            <dd>${d.pending.count}</dd>
            <dt>${c.t('oldestPending')}</dt>
            <dd>${d.pending.oldestReceivedAt ? time(c, d.pending.oldestReceivedAt) : c.t('none')}</dd>
            <dt>${c.t('stuckCredits')}</dt>
            <dd><a href="/console/attention">${d.pending.stuckCount}</a></dd>
          </dl>
        </section>
        <section>
          <h2>${c.t('refundsByState')}</h2>
          ${table(
            null,
            [c.t('status'), c.t('count'), c.t('flagged')],
            d.refunds.map((r) => [
              html`<a href="${`/console/refunds${query({ status: r.status })}`}">${r.status}</a>`,
              r.count,
              r.flagged,
            ]),
            c.t('none'),
          )}
        </section>
      </div>`,
  );
}

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
const SOURCES: readonly string[] = PAYMENT_SOURCES;
const STATES: readonly string[] = PAYMENT_STATES;

function select(
  id: string,
  label: string,
  anyText: string,
  options: readonly string[],
  value?: string,
): SafeHtml {
  return html`<div>
    <label for="${id}">${label}</label
    ><select id="${id}" name="${id}">
      <option value="">${anyText}</option>
      ${options.map((o) => html`<option value="${o}" ${o === value ? html` selected` : ''}>${o}</option>`)}
    </select>
  </div>`;
}

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

export interface PaymentPageData {
  payment: Payment;
  refunds: Refund[];
  refundable: number;
  evidence: EvidenceEntry[];
  timeline: AuditEntry[];
}

function refundRows(c: Ctx, refunds: Refund[]): HtmlValue[][] {
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

function refundHead(c: Ctx): string[] {
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
        ${table(null, refundHead(c), refundRows(c, d.refunds), c.t('noRefunds'))}
        ${
          canAct && d.refundable > 0 && p.state === 'credited'
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
                        value="${(
                          BigInt(d.refundable) / 100n
                        ).toString()}.${(BigInt(d.refundable) % 100n).toString().padStart(2, '0')}"
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
      <section aria-labelledby="tl-h">
        <h2 id="tl-h">${c.t('timeline')}</h2>
        <ol>
          <li>${time(c, p.receivedAt)}: received</li>
          ${d.timeline.map((e) => html`<li>${time(c, e.at)}: ${e.action} — ${e.actor}${e.details ? html` <code>${JSON.stringify(e.details)}</code>` : ''}</li>`)}
          ${p.creditedAt ? html`<li>${time(c, p.creditedAt)}: credited</li>` : ''}
          <li>${time(c, p.updatedAt)}: ${stateText(p.state)}</li>
        </ol>
      </section>`,
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

export interface AttentionData {
  stuck: Payment[];
  stuckCount: number;
  refunds: Refund[];
  jetpay: Payment[];
  qr: PurchaseWithPayment[];
}

export function attentionPage(c: Ctx, d: AttentionData): SafeHtml {
  return layout(
    c,
    c.t('attention'),
    html`<h1>${c.t('attention')}</h1>
      <p>${c.t('attentionIntro')}</p>
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
      ${table(
        null,
        [
          c.t('received'),
          c.t('txnId'),
          c.t('source'),
          c.t('account'),
          c.t('amount'),
          c.t('state'),
          c.t('lastError'),
        ],
        d.stuck.map((p) => [
          time(c, p.receivedAt),
          html`<a href="${`/console/payments/${p.id}`}">${p.txnId}</a>`,
          p.source,
          p.account,
          money(c, p.amount),
          stateText(p.state),
          p.lastError,
        ]),
        c.t('nothingToDo'),
      )}
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

export function auditPage(
  c: Ctx,
  f: { actor?: string; action?: string; target?: string },
  entries: AuditEntry[],
  next: string | null,
  actions: readonly string[],
): SafeHtml {
  return layout(
    c,
    c.t('auditLog'),
    html`<h1>${c.t('auditLog')}</h1>
      <form class="filters" method="get" action="/console/audit">
        <div>
          <label for="actor">${c.t('actor')}</label
          ><input id="actor" name="actor" value="${f.actor ?? ''}" maxlength="200" />
        </div>
        ${select('action', c.t('action'), c.t('any'), [...actions], f.action)}
        <div>
          <label for="target">${c.t('target')}</label
          ><input id="target" name="target" value="${f.target ?? ''}" maxlength="200" />
        </div>
        <button type="submit">${c.t('apply')}</button>
      </form>
      ${table(
        null,
        [c.t('time'), c.t('actor'), c.t('action'), c.t('target'), c.t('details'), c.t('clientIp')],
        entries.map((e) => [
          time(c, e.at),
          e.actor,
          e.action,
          e.targetType ? `${e.targetType} ${e.targetId ?? ''}` : '',
          e.details ? html`<pre>${JSON.stringify(e.details)}</pre>` : '',
          e.clientIp,
        ]),
        c.t('noEntries'),
      )}
      ${next ? html`<p><a href="${`/console/audit${query({ ...f, before: next })}`}" rel="next">${c.t('nextPage')}</a></p>` : ''}`,
  );
}

export function usersPage(c: Ctx, users: ConsoleUser[], status?: SafeHtml): SafeHtml {
  const roles: Role[] = ['viewer', 'operator', 'admin'];
  return layout(
    c,
    c.t('users'),
    html`<h1>${c.t('users')}</h1>
      ${table(
        null,
        [c.t('login'), c.t('role'), c.t('disabled'), c.t('created'), c.t('lastLogin'), ''],
        users.map((u) => [
          u.login,
          html`<form method="post" action="${`/console/users/${u.login}/role`}">
            ${csrfField(c)}<label for="${`role-${u.login}`}" class="skip">${c.t('role')} ${u.login}</label
            ><select id="${`role-${u.login}`}" name="role">
              ${roles.map((r) => html`<option value="${r}" ${r === u.role ? html` selected` : ''}>${c.t(`role_${r}`)}</option>`)}
            </select>
            <button type="submit" class="secondary">${c.t('save')}</button>
          </form>`,
          u.disabled ? c.t('yes') : c.t('no'),
          time(c, u.createdAt),
          time(c, u.lastLoginAt),
          html`<form
              method="post"
              action="${`/console/users/${u.login}/${u.disabled ? 'enable' : 'disable'}`}"
            >
              ${csrfField(c)}<button type="submit" class="secondary">
                ${u.disabled ? c.t('enable') : c.t('disable')} ${u.login}
              </button>
            </form>
            <form method="post" action="${`/console/users/${u.login}/password`}">
              ${csrfField(c)}<button type="submit" class="secondary">
                ${c.t('setPassword')}: ${u.login}
              </button>
            </form>`,
        ]),
        c.t('none'),
      )}
      <h2>${c.t('addUser')}</h2>
      <form method="post" action="/console/users" class="filters">
        ${csrfField(c)}
        <div>
          <label for="new-login">${c.t('login')}</label
          ><input id="new-login" name="login" required maxlength="64" />
        </div>
        <div>
          <label for="new-role">${c.t('role')}</label
          ><select id="new-role" name="role">
            ${roles.map((r) => html`<option value="${r}">${c.t(`role_${r}`)}</option>`)}
          </select>
        </div>
        <button type="submit">${c.t('add')}</button>
      </form>`,
    status,
  );
}

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

export function qrPage(
  c: Ctx,
  f: { state?: string; account?: string },
  list: PurchaseWithPayment[],
  states: readonly string[],
): SafeHtml {
  return layout(
    c,
    c.t('kaspiQr'),
    html`<h1>${c.t('kaspiQr')}</h1>
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
          html`<a href="${`/console/payments/${q.paymentId}`}">${q.qrPaymentId}</a>`,
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
