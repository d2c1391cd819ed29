import type { AuditEntry } from '../../audit/audit-log.js';
import type { EvidenceEntry } from '../../http/request-log-evidence.js';
import type { Payment } from '../../payments/payment-store.js';
import type { Refund } from '../../refunds/refund-store.js';
import type { LedgerLine } from '../console-queries.js';
import { html, type SafeHtml } from '../html.js';
import { money, stateText, time, type Ctx } from './layout.js';

/**
 * A payment's timeline, put together from what is stored (nothing is recorded for it alone):
 * its receipt, every request-log entry of its txn_id (Kaspi's check and pay, each billing call,
 * the Refund API's and Kaspi QR's exchanges), its audit entries and its refunds' (retries,
 * filings, resumes), its ledger lines (the embedded billing's credit), the credit, each refund's
 * end, and the state it is in now. Oldest first; equal times keep that order.
 */

export interface TimelineEvent {
  at: string;
  what: SafeHtml | string;
  detail?: SafeHtml | string;
}

/** A stored time (`2026-12-01 10:00:00.000`, UTC) or an ISO one, in ms. */
function ms(at: string): number {
  const t = Date.parse(at.includes('T') ? at : `${at.replace(' ', 'T')}Z`);
  return Number.isNaN(t) ? 0 : t;
}

export interface TimelineData {
  payment: Payment;
  evidence: EvidenceEntry[];
  audit: AuditEntry[];
  refunds: Refund[];
  ledger: LedgerLine[];
}

export function paymentTimeline(c: Ctx, d: TimelineData): TimelineEvent[] {
  const p = d.payment;
  const ev: TimelineEvent[] = [{ at: p.receivedAt, what: c.t('tlReceived'), detail: money(c, p.amount) }];
  for (const e of d.evidence) {
    if (!e.at) continue;
    const isBilling = e.channel === 'billing';
    ev.push({
      at: e.at,
      what: isBilling ? c.t('tlAttempt') : `${e.channel} ${e.command ?? ''}`.trim(),
      detail: [
        e.httpStatus ? `HTTP ${e.httpStatus}` : '',
        e.result !== null ? `result ${e.result}` : '',
        e.comment ?? '',
      ]
        .filter(Boolean)
        .join(', '),
    });
  }
  for (const a of d.audit)
    ev.push({
      at: a.at,
      what: a.action,
      detail: `${a.actor}${a.targetType === 'refund' ? ` (refund ${a.targetId ?? ''})` : ''}`,
    });
  for (const l of d.ledger)
    ev.push({ at: l.createdAt, what: `ledger ${l.kind}`, detail: money(c, l.amount) });
  if (p.creditedAt) ev.push({ at: p.creditedAt, what: c.t('tlCredited'), detail: p.billingRef ?? '' });
  for (const r of d.refunds) {
    ev.push({
      at: r.createdAt,
      what: `${c.t('tlRefund')} ${r.id}`,
      detail: html`${money(c, r.amount)} — ${r.createdBy}`,
    });
    if (r.finishedAt)
      ev.push({ at: r.finishedAt, what: `${c.t('tlRefund')} ${r.id}`, detail: stateText(r.status) });
    if (r.flaggedAt)
      ev.push({
        at: r.flaggedAt,
        what: `${c.t('tlRefund')} ${r.id}: ${c.t('tlFlagged')}`,
        detail: r.flagReason ?? '',
      });
  }
  const sorted = ev.map((e, i) => ({ e, i })).sort((a, b) => ms(a.e.at) - ms(b.e.at) || a.i - b.i);
  const out = sorted.map((x) => x.e);
  out.push({
    at: p.updatedAt,
    what: c.t('tlNow'),
    detail: html`${stateText(p.state)}${p.lastError ? ` — ${p.lastError}` : ''}`,
  });
  return out;
}

export function timelineSection(c: Ctx, events: TimelineEvent[]): SafeHtml {
  return html`<section aria-labelledby="tl-h">
    <h2 id="tl-h">${c.t('timeline')}</h2>
    <ol class="timeline">
      ${events.map((e) => html`<li><time>${time(c, e.at)}</time> <strong>${e.what}</strong>${e.detail ? html` — ${e.detail}` : ''}</li>`)}
    </ol>
  </section>`;
}
