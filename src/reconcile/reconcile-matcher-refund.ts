/**
 * A refund row of the registry → our refund of the same txn_id (by refund reference first, else
 * by amount, success before pending before the rest, oldest first), and the refunds that add up to
 * more than their payment. Pure: adds to the run, no I/O.
 */
import type { OurRefund } from './reconcile-matcher-types.js';
import { PENDING_REFUND, type MatchRun } from './reconcile-matcher-run.js';
import type { RegistryRow } from './registry-profile.js';

export function matchRefund(run: MatchRun, r: RegistryRow, txnId: string, amount: number): void {
  const payment = run.input.paymentsByTxn.get(txnId) ?? null;
  const all = (run.input.refundsByTxn.get(txnId) ?? []).filter((x) => !run.matchedRefunds.has(x.id));
  let found: OurRefund | null = null;
  if (r.refundRef)
    found =
      all.find((x) => x.refundIdentificator === r.refundRef || x.requestIdentificator === r.refundRef) ??
      null;
  const byRef = found !== null;
  if (!found) {
    const rank = (st: string) =>
      st === 'success' ? 0 : PENDING_REFUND.includes(st) || st === 'fatal' ? 1 : 2;
    found =
      all
        .filter((x) => x.amount === amount)
        .sort((a, b) => rank(a.status) - rank(b.status) || a.createdAt.localeCompare(b.createdAt))[0] ?? null;
  }
  const base = {
    ...run.fromRow(r),
    paymentId: payment?.id ?? null,
    refundId: found?.id ?? null,
    ourAmount: found?.amount ?? null,
  };
  const sum = (run.refundSums.get(txnId) ?? 0) + amount;
  run.refundSums.set(txnId, sum);
  if (payment && sum > payment.amount && !run.overPaymentFlagged.has(txnId)) {
    run.overPaymentFlagged.add(txnId);
    run.add({
      class: 'REFUND_OVER_PAYMENT',
      severity: 'action',
      dueAt: run.seventh(r.dateRaw),
      ...base,
      detail: { refundsInRegistries: sum, payment: payment.amount },
      suggestedAction: 'the refunds of this txn_id add up to more than the payment: ask Kaspi',
    });
  }
  if (!found) {
    if (!payment)
      run.add({
        class: 'REFUND_WITHOUT_PAYMENT',
        severity: 'action',
        dueAt: run.nextBusiness,
        ...base,
        suggestedAction:
          'a refund of a payment that is not ours: exclude it with a profile rule, or handle it by hand',
      });
    else
      run.add({
        class: 'REFUND_MISSING_OURS',
        severity: 'action',
        dueAt: run.nextBusiness,
        ...base,
        suggestedAction: 'a refund made outside the gateway: --action record-refund tells the billing once',
      });
    return;
  }
  run.matchedRefunds.add(found.id);
  run.matches.push({ rowNo: r.rowNo, paymentId: null, refundId: found.id });
  if (found.status === 'success') {
    if (byRef && found.amount !== amount)
      run.add({
        class: 'REFUND_AMOUNT_DIFFERS',
        severity: 'action',
        dueAt: run.seventh(r.dateRaw),
        ...base,
        suggestedAction: 'ask Kaspi; --action accept --note once settled',
      });
    else {
      run.matched.refunds.count++;
      run.matched.refunds.amount += amount;
    }
  } else if (PENDING_REFUND.includes(found.status)) {
    run.add({
      class: 'REFUND_PENDING_OURS',
      severity: 'watch',
      dueAt: run.nextBusiness,
      ...base,
      detail: { refundStatus: found.status },
      suggestedAction: 'the refund poll was kicked; the item closes when the refund is success',
    });
  } else {
    run.add({
      class: 'REFUND_STATUS_DIFFERS',
      severity: 'action',
      dueAt: run.nextBusiness,
      ...base,
      detail: { refundStatus: found.status },
      suggestedAction:
        found.status === 'fatal'
          ? 'ask Kaspi; if it was paid: npm run cli -- refunds resume'
          : 'ask Kaspi; if it was paid: --action record-refund',
    });
  }
}
