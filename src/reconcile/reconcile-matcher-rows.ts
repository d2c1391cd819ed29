/**
 * The row pass of the matcher: every row of the registry in file order → the items of invalid,
 * excluded, totals and precision-damaged rows, and the payment rows matched one-to-one to ours by
 * txn_id (refund rows go to reconcile-matcher-refund.ts). Pure: adds to the run, no I/O.
 */
import type { MatchRun } from './reconcile-matcher-run.js';
import { PENDING_PAYMENT } from './reconcile-matcher-run.js';
import { matchRefund } from './reconcile-matcher-refund.js';
import { precisionPrefix } from './registry-parse.js';
import { compareAccount } from './registry-profile.js';

export function rowPass(run: MatchRun): void {
  for (const r of run.input.rows) {
    run.registry.rows++;
    if (r.kind === 'invalid') {
      run.add({
        class: 'ROW_INVALID',
        severity: 'action',
        dueAt: run.seventh(r.dateRaw ?? run.monthDay),
        ...run.fromRow(r),
        paymentId: null,
        refundId: null,
        ourAmount: null,
        detail: { problem: r.problem, cells: r.raw },
        suggestedAction: 'fix the profile, or ask Kaspi; the row’s cells are in the item',
      });
      continue;
    }
    if (r.kind === 'excluded') {
      run.add({
        class: 'EXCLUDED',
        severity: 'info',
        dueAt: null,
        ...run.fromRow(r),
        paymentId: null,
        refundId: null,
        ourAmount: null,
        suggestedAction: 'none: left out by a profile rule',
      });
      continue;
    }
    if (r.kind === 'totals') {
      if (r.amount === null) continue;
      let pay = 0;
      let ref = 0;
      for (const x of run.dataRows) {
        if (x.rowNo >= r.rowNo || x.amount === null) continue;
        if (x.kind === 'payment') pay += x.amount;
        else ref += x.amount;
      }
      if (r.amount !== pay && r.amount !== pay - ref)
        run.add({
          class: 'FILE_TOTAL_MISMATCH',
          severity: 'action',
          dueAt: run.seventh(run.monthDay),
          ...run.fromRow(r),
          paymentId: null,
          refundId: null,
          ourAmount: pay,
          detail: { totalsRow: r.amount, payments: pay, paymentsMinusRefunds: pay - ref },
          suggestedAction: 'ask Kaspi for a corrected registry, then import it with --replaces',
        });
      continue;
    }
    const txnId = r.txnId as string;
    const amount = r.amount as number;
    run.registry.commission += r.commission ?? 0;
    run.registry.returnedCommission += r.returnedCommission ?? 0;
    if (r.kind === 'payment') {
      run.registry.payments.count++;
      run.registry.payments.amount += amount;
    } else {
      run.registry.refunds.count++;
      run.registry.refunds.amount += amount;
    }
    if (r.txnIdPrecision) {
      const prefix = precisionPrefix(txnId);
      const candidates = run.input.precisionCandidates
        .filter(
          (p) =>
            p.txnId.length === txnId.length &&
            p.txnId.startsWith(prefix) &&
            p.amount === amount &&
            (p.txnDateRaw ?? '').slice(0, 8) === (r.dateRaw ?? '').slice(0, 8),
        )
        .map((p) => ({ paymentId: p.id, txnId: p.txnId, amount: p.amount, state: p.state }));
      run.add({
        class: 'TXN_ID_PRECISION',
        severity: 'action',
        dueAt: run.seventh(r.dateRaw),
        ...run.fromRow(r),
        paymentId: null,
        refundId: null,
        ourAmount: null,
        detail: { candidates, cells: r.raw },
        suggestedAction:
          'the txn_id was stored by Excel as a number and lost digits: confirm a candidate with --action link --payment <txn_id>',
      });
      continue;
    }
    if (r.kind === 'refund') {
      matchRefund(run, r, txnId, amount);
      continue;
    }
    // payment row
    run.listedHere.add(txnId);
    const ours = run.input.paymentsByTxn.get(txnId) ?? null;
    // Made only for an item: most rows match and make none (an object spread per row of 200 000
    // cost more than the rest of the pass).
    const base = () => ({
      rowNo: r.rowNo,
      txnId: r.txnId,
      refundRef: r.refundRef,
      registryAmount: r.amount,
      paymentId: ours?.id ?? null,
      refundId: null,
      ourAmount: ours?.amount ?? null,
    });
    if (r.statusSuccess === false) {
      const credited = ours?.state === 'credited';
      run.add({
        class: 'STATUS_NOT_SUCCESS',
        severity: credited ? 'action' : 'info',
        dueAt: credited ? run.seventh(r.dateRaw) : null,
        ...base(),
        detail: { status: r.status },
        suggestedAction: credited
          ? 'Kaspi lists it as not successful and we credited it: ask Kaspi'
          : 'none: never credited from the registry',
      });
      continue;
    }
    if (run.seen.has(txnId)) {
      run.add({
        class: 'DUPLICATE_ROW',
        severity: 'action',
        dueAt: run.seventh(r.dateRaw),
        ...base(),
        suggestedAction: 'the txn_id is twice in the file: ask Kaspi (crediting stays exactly once)',
      });
      continue;
    }
    run.seen.add(txnId);
    if (run.input.elsewhere.paymentTxnIds.has(txnId)) {
      run.add({
        class: 'IN_OTHER_REGISTRY',
        severity: 'action',
        dueAt: run.seventh(r.dateRaw),
        ...base(),
        suggestedAction:
          'also in another registry: ask Kaspi (double settlement risk); a corrected re-issue is imported with --replaces',
      });
      continue;
    }
    if (!ours) {
      run.add({
        class: 'MISSING_OURS',
        severity: 'action',
        dueAt: run.endOfReceived,
        ...base(),
        suggestedAction: r.account
          ? 'credit it: --action credit'
          : 'credit it: --action credit --account <account> (the row has none)',
      });
      continue;
    }
    if (run.matchedPayments.has(ours.id) || run.input.elsewhere.matchedPaymentIds.has(ours.id)) continue;
    run.matchedPayments.add(ours.id);
    run.matches.push({ rowNo: r.rowNo, paymentId: ours.id, refundId: null });
    if (PENDING_PAYMENT.includes(ours.state)) {
      run.add({
        class: 'PENDING_OURS',
        severity: 'action',
        dueAt: run.endOfReceived,
        ...base(),
        detail: { state: ours.state },
        suggestedAction:
          'the credit retry was kicked; if it stays pending follow the runbook "Stuck credits"',
      });
    } else if (ours.state !== 'credited') {
      run.add({
        class: 'REFUSED_OURS',
        severity: 'action',
        dueAt: run.endOfReceived,
        ...base(),
        detail: { state: ours.state, result: ours.result },
        suggestedAction: 'Kaspi counts it as paid: --action credit --account <account>, or --action refund',
      });
    } else if (ours.amount !== amount) {
      run.add({
        class: 'AMOUNT_DIFFERS',
        severity: 'action',
        dueAt: run.seventh(ours.txnDateRaw ?? r.dateRaw),
        ...base(),
        suggestedAction:
          'raise it with Kaspi (Pay@kaspi.kz) quoting the txn_id; adjust only what Kaspi confirms, then --action accept --note',
      });
    } else {
      run.matched.payments.count++;
      run.matched.payments.amount += amount;
    }
    if (
      r.account &&
      ours.account &&
      compareAccount(r.account, run.s.accountCompare) !== compareAccount(ours.account, run.s.accountCompare)
    )
      run.add({
        class: 'ACCOUNT_DIFFERS',
        severity: 'watch',
        dueAt: run.seventh(r.dateRaw),
        ...base(),
        detail: { registryAccount: r.account, ourAccount: ours.account },
        suggestedAction: 'usually formatting: set accountCompare in the profile; otherwise look at it',
      });
    if (ours.txnDateRaw && r.dateRaw) {
      const n = r.dateRaw.length === 14 ? 14 : 8;
      if (ours.txnDateRaw.slice(0, n) !== r.dateRaw.slice(0, n)) {
        const otherMonth = ours.txnDateRaw.slice(0, 6) !== r.dateRaw.slice(0, 6);
        run.add({
          class: 'DATE_DIFFERS',
          severity: otherMonth ? 'watch' : 'info',
          dueAt: otherMonth ? run.seventh(ours.txnDateRaw) : null,
          ...base(),
          detail: { registryDate: r.dateRaw, ourTxnDate: ours.txnDateRaw },
          suggestedAction: otherMonth
            ? 'the registry puts it in another month than our txn_date: the monthly totals differ'
            : 'none: shown for the monthly totals',
        });
      }
    }
  }
}
