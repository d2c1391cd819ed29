import { amountFields, isoTime } from '../http/json-amount.js';
import type { Refund } from './refund-store.js';

/** A refund as the admin API and the CLI show it: amounts as "100.00" and integer tiyn. */
export function refundView(r: Refund) {
  return {
    id: r.id,
    source: r.source,
    origin: r.origin,
    txnId: r.txnId,
    paymentId: r.paymentId,
    account: r.account,
    ...amountFields('amount', r.amount),
    returnAmount: r.returnAmount,
    returnAmountUnit: r.amountUnit,
    reason: r.reason,
    status: r.status,
    kaspiStatus: r.kaspiStatus,
    refundIdentificator: r.refundIdentificator,
    requestIdentificator: r.requestIdentificator,
    error: r.errorCode === null ? null : { code: r.errorCode, message: r.errorMessage },
    flagged: r.flaggedAt === null ? null : { at: isoTime(r.flaggedAt), reason: r.flagReason },
    polls: r.polls,
    nextPollAt: isoTime(r.nextPollAt),
    lastProblem: r.lastProblem,
    billingNotifiedAt: isoTime(r.billingNotifiedAt),
    billingRef: r.billingRef,
    createdBy: r.createdBy,
    createdAt: isoTime(r.createdAt),
    updatedAt: isoTime(r.updatedAt),
    finishedAt: isoTime(r.finishedAt),
  };
}
