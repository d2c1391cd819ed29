import type { EmbeddedBilling } from '../billing/billing.js';
import { EMBEDDED_CREDIT_REF } from '../billing/sql-billing.js';
import { withCommitRetry } from '../db/commit-retry.js';
import { isUniqueViolation, type Db } from '../db/db.js';
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

  /** The credit's transaction, run again when the database aborted it for a conflict (src/db/commit-retry.ts). */
  private async creditStoredNow(
    paymentId: string,
    from: readonly PaymentState[],
    amount?: Tiyn,
  ): Promise<PayOutcome> {
    const out = await withCommitRetry(
      this.db,
      'credit stored payment',
      () => this.general.creditStored(paymentId, from, (p) => this.answerFor(p), amount),
      { prvTxn: paymentId },
    );
    if (out.result === 0 && out.created)
      log.info('payment credited', { prvTxn: paymentId, amount: out.amount });
    return out;
  }

  /**
   * InnoDB may pick a pay's transaction as a deadlock victim when many identical pays race on one
   * unique key and one account row, and on Galera a pay that lost certification to a duplicate on
   * another node fails at COMMIT the same way: the transaction rolled back whole, so it runs again
   * (src/db/commit-retry.ts), and the run again meets the winner's row as a unique violation and
   * replays its answer. The deadline still bounds the answer. When the attempts run out the pay
   * answers as any failure does (4, nothing stored by it).
   */
  private async payWithRetries(req: PayRequest): Promise<PayOutcome> {
    try {
      return await withCommitRetry(
        this.db,
        'pay',
        () => this.payOnce(req),
        { txnId: req.txnId },
        { idempotent: true },
      );
    } catch (e) {
      if (isUniqueViolation(e)) return this.replayOrFallback(req);
      return this.afterFailure(req, e);
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
