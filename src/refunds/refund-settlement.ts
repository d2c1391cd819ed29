import type { Knex } from 'knex';
import { transactionWithRetry } from '../db/commit-retry.js';
import { dbTime, type Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import type { RefundBilling, RefundNotice } from './refund-billing.js';
import { nextPollAt } from './refund-schedule.js';
import {
  MOVABLE_STATUSES as MOVABLE,
  type Refund,
  type RefundPatch,
  type RefundStore,
} from './refund-store.js';

const log = getLogger('refunds');

/**
 * A refund's final move, and the billing hearing of a success: the one place a refund reaches
 * success (the Refund API's answers and Kaspi QR returns both end here).
 */
export class RefundSettlement {
  constructor(
    private readonly db: Db,
    private readonly store: RefundStore,
    private readonly billing: RefundBilling,
    private readonly backoffMs: number,
  ) {}

  /**
   * A refund to a final status, once (the conditional transition decides who wins); success debits
   * the embedded billing in the same transaction, or tells the remote one after commit.
   */
  async finish(refund: Refund, status: 'success' | 'declined' | 'failed', patch: RefundPatch): Promise<void> {
    if (status !== 'success') {
      const moved = await this.store.transition(undefined, refund.id, MOVABLE, {
        ...patch,
        status,
        polled: true,
        nextPollAt: null,
        lastProblem: null,
      });
      if (moved) {
        log.info(`refund ${status}`, {
          refundId: refund.id,
          txnId: refund.txnId,
          errorCode: patch.errorCode,
          errorMessage: patch.errorMessage,
        });
      }
      return;
    }
    const notice = noticeOf(refund);
    const billing = this.billing;
    const moved = await transactionWithRetry(this.db, 'refund success', async (trx) => {
      const won = await this.store.transition(trx, refund.id, MOVABLE, {
        ...patch,
        status: 'success',
        polled: true,
        lastProblem: null,
        // A remote billing is told after commit; until it has heard, the poller keeps trying.
        nextPollAt: billing.kind === 'sql' ? null : dbTime(),
      });
      if (!won) return false;
      // Already "told" at filing: a payment that was never credited has nothing to take back.
      if (billing.kind === 'sql' && refund.billingNotifiedAt === null) {
        const ref = await billing.debitInTransaction(trx, notice);
        await this.store.transition(trx, refund.id, ['success'], { billingNotified: true, billingRef: ref });
      }
      return true;
    });
    if (!moved) return;
    log.info('refund succeeded: money returned to the payer', {
      refundId: refund.id,
      txnId: refund.txnId,
      amount: refund.amount,
    });
    if (billing.kind === 'http') await this.notifyRemote((await this.store.findById(refund.id)) as Refund);
  }

  /**
   * A refund stored as success in the caller's transaction (one Kaspi already made, recorded from a
   * registry): the embedded billing is debited in that same transaction; a remote one is told after
   * the commit by notifyRemote (the poller repeats it until it has heard).
   */
  async settleRecorded(trx: Knex.Transaction, refund: Refund): Promise<void> {
    const billing = this.billing;
    if (billing.kind !== 'sql') return;
    const ref = await billing.debitInTransaction(trx, noticeOf(refund));
    await this.store.transition(trx, refund.id, ['success'], { billingNotified: true, billingRef: ref });
  }

  get billingInTransaction(): boolean {
    return this.billing.kind === 'sql';
  }

  /** Tells a remote billing of a success it has not heard of yet; on failure the poller repeats it. */
  async notifyRemote(refund: Refund): Promise<void> {
    const billing = this.billing;
    if (billing.kind !== 'http' || refund.billingNotifiedAt !== null) return;
    try {
      const out = await billing.notifyRefund(noticeOf(refund));
      await this.store.transition(undefined, refund.id, ['success'], {
        billingNotified: true,
        billingRef: out.billingRef,
        nextPollAt: null,
      });
    } catch (e) {
      log.warn('billing not told of a refund yet: will repeat', { refundId: refund.id, err: e });
      await this.store.transition(undefined, refund.id, ['success'], {
        polled: true,
        lastProblem: `billing: ${e instanceof Error ? e.message : String(e)}`,
        nextPollAt: nextPollAt(refund, this.backoffMs),
      });
    }
  }
}

function noticeOf(r: Refund): RefundNotice {
  return { refundId: r.id, paymentId: r.paymentId, txnId: r.txnId, account: r.account, amount: r.amount };
}
