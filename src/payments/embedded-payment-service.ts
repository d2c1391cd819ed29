import type { EmbeddedBilling } from '../billing/billing.js';
import { EMBEDDED_CREDIT_REF } from '../billing/sql-billing.js';
import { isRetryableTxError, isUniqueViolation, type Db } from '../db/db.js';
import { backoff, sleep } from '../shared/backoff.js';
import type { Tiyn } from '../shared/money.js';
import {
  COMMENT_OK,
  type PaymentService,
  type PaymentServiceOptions,
  type PayOutcome,
  type PayRequest,
} from './pay-types.js';
import { log, PaymentServiceBase, type Progress } from './payment-service-base.js';
import { RETRYABLE_STATES, type PaymentState, type PaymentStore } from './payment-store.js';
import { GeneralRecordAndCredit, paymentRow } from './record-and-credit/general.js';
import type { OneCallCredit } from './record-and-credit/one-call.js';

/**
 * InnoDB may pick a pay's transaction as a deadlock victim when many identical pays race on one
 * unique key and one account row; the transaction rolled back whole, so running it again is safe.
 * The deadline still bounds the answer.
 */
const MAX_TX_ATTEMPTS = 8;
const TX_RETRY = { baseMs: 10, maxMs: 250 };

/**
 * The embedded billing (`sql`): the payment row is inserted under its unique key inside the same
 * transaction as the credit. Whoever inserts first owns the payment; a duplicate, however
 * concurrent, hits the key, waits for the owner to commit, and replays its stored answer. The
 * common pay (an active account) goes in one database call, any other the general way.
 */
export class EmbeddedPaymentService extends PaymentServiceBase implements PaymentService {
  readonly claimMs = 0;
  private readonly general: GeneralRecordAndCredit;

  constructor(
    db: Db,
    payments: PaymentStore,
    billing: EmbeddedBilling,
    private readonly oneCall: OneCallCredit | null,
    opts: PaymentServiceOptions,
  ) {
    super(db, payments, (a) => billing.lookup(a), opts);
    this.general = new GeneralRecordAndCredit(db, payments, billing);
  }

  recordAndCredit(req: PayRequest): Promise<PayOutcome> {
    const progress: Progress = { prvTxn: null, amount: req.amount, txnId: req.txnId };
    return this.withinDeadline(this.payWithRetries(req), progress, req.startedAt);
  }

  creditStored(paymentId: string, from: readonly PaymentState[], amount?: Tiyn): Promise<PayOutcome> {
    const progress: Progress = { prvTxn: paymentId, amount: amount ?? 0, txnId: paymentId };
    return this.withinDeadline(this.creditStoredNow(paymentId, from, amount), progress);
  }

  /** Pending credits come from the external billing; after a switch to sql, finish them in one transaction. */
  async retryCredit(due: { id: string; attempts: number }): Promise<PayOutcome | null> {
    const p = await this.payments.findById(due.id);
    return p ? this.creditStoredNow(p.id, RETRYABLE_STATES) : null;
  }

  private async creditStoredNow(
    paymentId: string,
    from: readonly PaymentState[],
    amount?: Tiyn,
  ): Promise<PayOutcome> {
    const out = await this.general.creditStored(paymentId, from, (p) => this.answerFor(p), amount);
    if (out.result === 0 && out.created)
      log.info('payment credited', { prvTxn: paymentId, amount: out.amount });
    return out;
  }

  private async payWithRetries(req: PayRequest): Promise<PayOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.payOnce(req);
      } catch (e) {
        if (isUniqueViolation(e)) return this.replayOrFallback(req);
        if (isRetryableTxError(e) && attempt < MAX_TX_ATTEMPTS) {
          log.warn('pay transaction aborted by the database, retrying', { txnId: req.txnId, attempt });
          await sleep(backoff(attempt, TX_RETRY));
          continue;
        }
        return this.afterFailure(req, e);
      }
    }
  }

  private async payOnce(req: PayRequest): Promise<PayOutcome> {
    const out = (await this.payInOneCall(req)) ?? (await this.general.record(req));
    // Logged after the commit: a log write never holds the payment's row locks.
    if (out.result === 0)
      log.info('payment credited', {
        txnId: req.txnId,
        prvTxn: out.prvTxn,
        account: req.account,
        amount: req.amount,
      });
    else log.info('payment refused by billing', { txnId: req.txnId, prvTxn: out.prvTxn, result: out.result });
    return out;
  }

  /** The common pay (an active account) in one database call; null when it is not that case. */
  private async payInOneCall(req: PayRequest): Promise<PayOutcome | null> {
    if (!this.oneCall) return null;
    const id = await this.oneCall.run({
      ...paymentRow(req),
      comment: COMMENT_OK,
      billingRef: EMBEDDED_CREDIT_REF,
    });
    return id === null
      ? null
      : { result: 0, comment: COMMENT_OK, prvTxn: id, amount: req.amount, created: true };
  }
}
