import { amountFields, isoTime } from '../http/json-amount.js';
import type { Payment } from './payment-store.js';

/** A payment as the admin API and the CLI show it. */
export function paymentView(p: Payment) {
  return {
    prvTxn: p.id,
    source: p.source,
    txnId: p.txnId,
    account: p.account,
    ...amountFields('amount', p.amount),
    state: p.state,
    result: p.result,
    comment: p.comment,
    txnDate: isoTime(p.txnDate),
    billingRef: p.billingRef,
    orderNumber: p.orderNumber,
    attempts: p.attempts,
    lastError: p.lastError,
    receivedAt: isoTime(p.receivedAt),
    creditedAt: isoTime(p.creditedAt),
    flags: p.flags,
    flaggedAt: isoTime(p.flaggedAt),
  };
}
