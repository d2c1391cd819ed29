import type { itemView, runView } from '../../reconcile/reconcile-report.js';
import { html, query, type HtmlValue, type SafeHtml } from '../html.js';
import type { Session } from '../session-store.js';
import { roleAtLeast } from '../user-store.js';
import { csrfField, field, layout, notice, select, stateText, table, type Ctx } from './layout.js';

/**
 * Reconciliation (shared/spec/reconciliation.md): the registry upload, the runs, a run's items and
 * an item with its resolve form. Everything shown comes from ReconcileService's own views (the
 * ones GET /api/reconciliations answers), so the page and the API never disagree.
 */

export type RunView = ReturnType<typeof runView>;
export type ItemView = ReturnType<typeof itemView> & { overdue?: boolean };

const itemHref = (id: string) => `/console/reconciliation/items/${id}`;
const runHref = (id: string) => `/console/reconciliation/runs/${id}`;

/** A view's free-form value as text (the views type them unknown). */
function textOf(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

function evidenceOf(i: ItemView): string {
  return (i.evidence as { summary?: string } | null)?.summary ?? '';
}

function ourAmount(i: ItemView): string {
  return ((i.ours as { amount?: string | null } | null)?.amount ?? '') || '';
}

function itemRows(c: Ctx, items: ItemView[]): HtmlValue[][] {
  return items.map((i) => [
    html`<a href="${itemHref(i.id)}">${i.id}</a>`,
    i.class,
    i.severity,
    html`${stateText(i.state)}${i.overdue ? html` <strong>(${c.t('overdue')})</strong>` : ''}`,
    i.dueAt ?? '',
    i.rowNo ?? '',
    i.txnId ?? '',
    i.registry?.amount ?? '',
    ourAmount(i),
    evidenceOf(i),
    textOf(i.suggestedAction),
  ]);
}

function itemHead(c: Ctx): string[] {
  return [
    c.t('item'),
    c.t('itemClass'),
    c.t('severity'),
    c.t('state'),
    c.t('dueAt'),
    c.t('row'),
    c.t('txnId'),
    c.t('registryAmount'),
    c.t('ourAmount'),
    c.t('evidence'),
    c.t('suggestedAction'),
  ];
}

export function reconItemsTable(c: Ctx, items: ItemView[]): SafeHtml {
  return table(null, itemHead(c), itemRows(c, items), c.t('noItems'));
}

export function reconciliationPage(c: Ctx, runs: RunView[], todo: ItemView[], status?: SafeHtml): SafeHtml {
  const s = c.session as Session;
  return layout(
    c,
    c.t('reconciliation'),
    html`<h1>${c.t('reconciliation')}</h1>
      ${
        roleAtLeast(s.role, 'operator')
          ? html`<section aria-labelledby="up-h">
              <h2 id="up-h">${c.t('upload')}</h2>
              <form
                method="post"
                action="/console/reconciliation/upload"
                enctype="multipart/form-data"
                class="filters"
              >
                ${csrfField(c)}
                <div>
                  <label for="registry">${c.t('registryFile')}</label
                  ><input id="registry" name="registry" type="file" required accept=".xlsx,.csv,.txt" />
                </div>
                <div>
                  <label for="rfrom">${c.t('periodFrom')}</label><input id="rfrom" name="from" type="date" />
                </div>
                <div><label for="rto">${c.t('periodTo')}</label><input id="rto" name="to" type="date" /></div>
                <button type="submit">${c.t('uploadButton')}</button>
              </form>
            </section>`
          : ''
      }
      <h2>${c.t('runs')}</h2>
      ${table(
        null,
        [c.t('run'), c.t('status'), c.t('period'), c.t('file'), c.t('importedAt'), c.t('origin')],
        runs.map((r) => [
          html`<a href="${runHref(r.id)}">${c.t('run')} ${r.id}</a>`,
          stateText(r.status),
          r.period.from ? `${r.period.from} – ${r.period.to ?? ''}` : '',
          r.file?.name ?? '',
          r.importedAt ?? '',
          r.operator ?? r.origin,
        ]),
        c.t('none'),
      )}
      <h2>${c.t('openItems')}</h2>
      ${reconItemsTable(c, todo)}`,
    status,
  );
}

export interface ItemFilter {
  state?: string;
  severity?: string;
  class?: string;
}

export function runPage(
  c: Ctx,
  run: RunView,
  items: ItemView[],
  f: ItemFilter,
  classes: readonly string[],
  status?: SafeHtml,
): SafeHtml {
  const byClass = Object.entries(run.totals?.byClass ?? {});
  return layout(
    c,
    `${c.t('run')} ${run.id}`,
    html`<h1>${c.t('run')} ${run.id}</h1>
      <dl class="fields">
        ${field(c, 'status', stateText(run.status))}
        ${field(c, 'period', run.period.from ? `${run.period.from} – ${run.period.to ?? ''}` : '')}
        ${field(c, 'file', run.file ? `${run.file.name ?? ''} (${run.file.format}, ${run.file.bytes} B)` : '')}
        ${field(c, 'importedAt', run.importedAt)}${field(c, 'origin', run.operator ?? run.origin)}
        ${run.error ? field(c, 'lastError', JSON.stringify(run.error)) : ''}
        ${run.warnings.length ? field(c, 'details', run.warnings.join('; ')) : ''}
      </dl>
      <h2>${c.t('byClass')}</h2>
      ${table(
        null,
        [c.t('itemClass'), c.t('count'), c.t('amount')],
        byClass.map(([k, v]) => [k, v.count, v.amount]),
        c.t('none'),
      )}
      <h2>${c.t('items')}</h2>
      <form class="filters" method="get" action="${runHref(run.id)}">
        ${select('state', c.t('state'), c.t('any'), ['open', 'resolved', 'ignored', 'auto_closed'], f.state)}
        ${select('severity', c.t('severity'), c.t('any'), ['action', 'watch', 'info'], f.severity)}
        ${select('class', c.t('itemClass'), c.t('any'), classes, f.class)}
        <button type="submit">${c.t('apply')}</button>
      </form>
      ${reconItemsTable(c, items)}
      <p>
        <a href="${`${runHref(run.id)}/items.csv`}" download>${c.t('downloadItems')}</a> ·
        <a href="${`${runHref(run.id)}/summary.txt`}" download>${c.t('downloadSummary')}</a> ·
        <a href="${`/console/reconciliation${query({})}`}">${c.t('reconciliation')}</a>
      </p>
      ${
        roleAtLeast((c.session as Session).role, 'operator')
          ? html`<form method="post" action="${`${runHref(run.id)}/rerun`}">
              ${csrfField(c)}
              <p>${c.t('rerunIntro')}</p>
              <button type="submit">${c.t('rerun')}</button>
            </form>`
          : ''
      }`,
    status,
  );
}

export function itemPage(c: Ctx, i: ItemView, actions: readonly string[], status?: SafeHtml): SafeHtml {
  const s = c.session as Session;
  const reg = i.registry;
  const ours = (i.ours ?? null) as Record<string, unknown> | null;
  const candidates = (i.candidates ?? []) as Array<{ paymentId: string; txnId: string }>;
  const canAct = roleAtLeast(s.role, 'operator') && i.state === 'open';
  return layout(
    c,
    `${c.t('item')} ${i.id}`,
    html`<h1>${c.t('item')} ${i.id}: ${i.class}</h1>
      <dl class="fields">
        ${field(c, 'run', html`<a href="${runHref(i.runId)}">${i.runId}</a>`)}
        ${field(c, 'severity', i.severity)}${field(c, 'state', stateText(i.state))}
        ${field(c, 'dueAt', i.dueAt)}${field(c, 'txnId', i.txnId)}${field(c, 'row', i.rowNo)}
        ${field(c, 'evidence', evidenceOf(i))}${field(c, 'suggestedAction', textOf(i.suggestedAction))}
        ${
          i.resolution
            ? field(
                c,
                'resolution',
                `${i.resolution.action ?? ''} — ${i.resolution.by ?? ''}, ${i.resolution.at ?? ''}: ${i.resolution.note ?? ''}`,
              )
            : ''
        }
      </dl>
      <div class="row">
        <section>
          <h2>${c.t('registrySide')}</h2>
          ${
            reg
              ? html`<dl class="fields">
                  ${field(c, 'kind', reg.type)}${field(c, 'amount', reg.amount)}
                  ${field(c, 'txnDate', reg.date)}${field(c, 'account', reg.account)}
                </dl>`
              : html`<p>${c.t('none')}</p>`
          }
        </section>
        <section>
          <h2>${c.t('ourSide')}</h2>
          ${
            ours
              ? html`<dl class="fields">
                  ${
                    ours.prvTxn
                      ? field(
                          c,
                          'prvTxn',
                          html`<a href="${`/console/payments/${String(ours.prvTxn)}`}"
                            >${String(ours.prvTxn)}</a
                          >`,
                        )
                      : ''
                  }
                  ${field(c, 'state', ours.state as string)}${field(c, 'amount', ours.amount as string)}
                  ${field(c, 'account', ours.account as string)}
                  ${ours.refundId ? field(c, 'refundId', `${String(ours.refundId)} ${String(ours.refundStatus ?? '')}`) : ''}
                </dl>`
              : html`<p>${c.t('none')}</p>`
          }
        </section>
      </div>
      ${
        canAct
          ? html`<section aria-labelledby="res-h">
              <h2 id="res-h">${c.t('resolveItem')}</h2>
              <form method="post" action="${`${itemHref(i.id)}/resolve`}" class="filters">
                ${csrfField(c)}
                <div>
                  <label for="res-action">${c.t('resolveAction')}</label
                  ><select id="res-action" name="action">
                    ${actions.map((a) => html`<option value="${a}">${a}</option>`)}
                  </select>
                </div>
                <div>
                  <label for="res-note">${c.t('note')}</label
                  ><input
                    id="res-note"
                    name="note"
                    maxlength="500"
                    size="40"
                    aria-describedby="res-note-hint"
                  /><span id="res-note-hint" class="muted">${c.t('notePlaceholderHint')}</span>
                </div>
                ${
                  actions.includes('credit')
                    ? html`<div>
                        <label for="res-account">${c.t('creditAccount')}</label
                        ><input id="res-account" name="account" maxlength="200" />
                      </div>`
                    : ''
                }
                ${
                  actions.includes('link')
                    ? html`<div>
                        <label for="res-payment">${c.t('linkPayment')}</label
                        ><select id="res-payment" name="payment">
                          ${candidates.map((p) => html`<option value="${p.txnId}">${p.txnId}</option>`)}
                        </select>
                      </div>`
                    : ''
                }
                <button type="submit">${c.t('resolveItem')}</button>
              </form>
            </section>`
          : ''
      }`,
    status,
  );
}

/** A refused registry: what Kaspi's file lacked, for the person to fix it (headers seen, fields missing). */
export function uploadRefused(c: Ctx, message: string, details: Record<string, unknown>): SafeHtml {
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String).join(', ') : '');
  return notice(
    html`${c.t('uploadRefused')} ${message}
    ${details.headersSeen ? html`<br />${c.t('headersSeen')}: ${list(details.headersSeen)}` : ''}
    ${details.fieldsMissing ? html`<br />${c.t('fieldsMissing')}: ${list(details.fieldsMissing)}` : ''}`,
    'error',
  );
}
