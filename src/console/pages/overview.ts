import { html, query, type SafeHtml } from '../html.js';
import type { ResultCount, SourceDay } from '../console-queries.js';
import { layout, money, table, time, type Ctx } from './layout.js';

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
