import type { Knex } from 'knex';
import type { CreditOutcome, EmbeddedBilling } from '../../billing/billing.js';
import type { Db } from '../../db/db.js';
import { NotFoundError } from '../../shared/errors.js';
import type { Tiyn } from '../../shared/money.js';
import { COMMENT_OK, type PayOutcome, type PayRequest } from '../pay-types.js';
import type { Payment, PaymentState, PaymentStore } from '../payment-store.js';

/** What a pay request stores in its payment row, whichever way it is written. */
export function paymentRow(req: PayRequest) {
  return {
    source: req.source,
    txnId: req.txnId,
    account: req.account,
    amount: req.amount,
    txnDateRaw: req.txnDateRaw,
    txnDate: req.txnDate,
    extra: req.extra,
  };
}

/**
 * The general path of the embedded billing: statement by statement in one knex transaction, for
 * any pay it takes (orders, refusals, a billing without the one call). The payment row, the
 * billing's credit (balance or order, and the ledger line) and the outcome commit together or not
 * at all; the unique (source, txn_id) key decides between concurrent pays. The one call
 * (./one-call.ts) writes the same rows for the common case in one database call.
 */
export class GeneralRecordAndCredit {
  constructor(
    private readonly db: Db,
    private readonly payments: PaymentStore,
    private readonly billing: EmbeddedBilling,
  ) {}

  /** A new payment: inserted under its unique key (a duplicate throws it), credited, settled. */
  record(req: PayRequest): Promise<PayOutcome> {
    return this.db.knex.transaction(async (trx) => {
      const id = await this.payments.insert(trx, { ...paymentRow(req), state: 'crediting' });
      const outcome = await this.billing.creditInTransaction(trx, {
        paymentId: id,
        source: req.source,
        txnId: req.txnId,
        account: req.account,
        amount: req.amount,
        txnDate: req.txnDateIso,
      });
      return this.settle(trx, id, outcome, req.amount);
    });
  }

  /**
   * A payment stored earlier (a JetPay deposit, a pending credit after a switch of billing): the
   * conditional move out of `from` decides who credits it; a loser gets the stored answer.
   */
  creditStored(
    paymentId: string,
    from: readonly PaymentState[],
    answerFor: (p: Payment) => PayOutcome,
    amount?: Tiyn,
  ): Promise<PayOutcome> {
    return this.db.knex.transaction(async (trx) => {
      const p = await this.payments.findById(paymentId, trx);
      if (!p) throw new NotFoundError('payment');
      if (!(await this.payments.transition(trx, p.id, from, { state: 'crediting' }))) {
        const now = await this.payments.findById(paymentId, trx);
        return answerFor(now as Payment);
      }
      const credit = amount ?? p.amount;
      const outcome = await this.billing.creditInTransaction(trx, {
        paymentId: p.id,
        source: p.source,
        txnId: p.txnId,
        account: p.account,
        amount: credit,
        txnDate: p.txnDate,
      });
      return this.settle(trx, p.id, outcome, credit);
    });
  }

  /** The credit's outcome written on its payment, inside the credit's transaction. */
  private async settle(
    trx: Knex.Transaction,
    id: string,
    outcome: CreditOutcome,
    amount: Tiyn,
  ): Promise<PayOutcome> {
    if (outcome.ok) {
      await this.payments.transition(trx, id, ['crediting'], {
        state: 'credited',
        result: 0,
        comment: COMMENT_OK,
        billingRef: outcome.billingRef,
        orderNumber: outcome.orderNumber ?? null,
      });
      return { result: 0, comment: COMMENT_OK, prvTxn: id, amount, created: true };
    }
    await this.payments.transition(trx, id, ['crediting'], {
      state: 'failed',
      result: outcome.result,
      comment: outcome.comment,
    });
    return { result: outcome.result, comment: outcome.comment, prvTxn: id, amount, created: true };
  }
}
