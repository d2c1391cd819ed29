/**
 * The pass over what we hold for the period: our payments by txn_date and our success refunds by
 * finished_at in the period's windows → our totals, and the ones this registry (and no other) does
 * not list. Runs after the row pass, whose matches it needs. Pure: adds to the run, no I/O.
 */
import { addBusinessDays, endOfDay, registryDay } from './reconcile-calendar.js';
import { ca, PENDING_PAYMENT, type MatchRun } from './reconcile-matcher-run.js';
import type { Totals } from './reconcile-matcher-types.js';

export function periodPass(run: MatchRun, range: { start: string; end: string } | null): Totals['ours'] {
  const ours = { credited: ca(), pending: ca(), failed: ca(), refundsSuccess: ca() };
  if (range) {
    const inRange = (w: string | null) => !!w && w.length === 14 && w >= range.start && w < range.end;
    for (const p of run.input.periodPayments) {
      if (!inRange(p.txnDateRaw)) continue;
      const bucket =
        p.state === 'credited'
          ? ours.credited
          : PENDING_PAYMENT.includes(p.state)
            ? ours.pending
            : ours.failed;
      bucket.count++;
      bucket.amount += p.amount;
      const listed =
        run.matchedPayments.has(p.id) ||
        run.listedHere.has(p.txnId) ||
        run.input.elsewhere.matchedPaymentIds.has(p.id) ||
        run.input.elsewhere.paymentTxnIds.has(p.txnId);
      if (listed || (p.state !== 'credited' && !PENDING_PAYMENT.includes(p.state))) continue;
      const day = registryDay(p.txnDateRaw as string, run.s.cutoff);
      const credited = p.state === 'credited';
      run.add({
        class: credited ? 'MISSING_KASPI' : 'PENDING_NOT_LISTED',
        severity: 'watch',
        dueAt: credited ? run.seventh(day) : null,
        escalateAt: credited
          ? endOfDay(addBusinessDays(day, run.s.graceBusinessDays, run.s.holidays), run.s.offset)
          : null,
        rowNo: null,
        txnId: p.txnId,
        paymentId: p.id,
        refundId: null,
        registryAmount: null,
        ourAmount: p.amount,
        detail: { state: p.state, txnDate: p.txnDateRaw },
        suggestedAction: credited
          ? `re-checked until the grace ends, then action: ask Kaspi whether the payment exists`
          : 'not final and in no registry: Kaspi may have cancelled a payment we keep retrying',
      });
    }
    for (const f of run.input.periodRefunds) {
      if (f.status !== 'success' || !inRange(f.finishedWall)) continue;
      ours.refundsSuccess.count++;
      ours.refundsSuccess.amount += f.amount;
      if (run.matchedRefunds.has(f.id)) continue;
      const day = (f.finishedWall as string).slice(0, 8);
      run.add({
        class: 'REFUND_MISSING_KASPI',
        severity: 'watch',
        dueAt: run.seventh(day),
        escalateAt: endOfDay(addBusinessDays(day, run.s.graceBusinessDays, run.s.holidays), run.s.offset),
        rowNo: null,
        txnId: f.txnId,
        paymentId: f.paymentId,
        refundId: f.id,
        registryAmount: null,
        ourAmount: f.amount,
        suggestedAction: 'our refund is in no registry: ask Kaspi',
      });
    }
  }
  return ours;
}
