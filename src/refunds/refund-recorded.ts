import { randomUUID } from 'node:crypto';
import { audit, type Actor } from '../audit/audit-log.js';
import { transactionWithRetry } from '../db/commit-retry.js';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import { AppError, ConflictError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import type { PaymentStore } from '../payments/payment-store.js';
import type { RefundSettlement } from './refund-settlement.js';
import type { Refund, RefundStore } from './refund-store.js';

export interface RecordDoneRefund {
  txnId: string;
  amount: Tiyn;
  reason: string;
  /** Required: what makes a repeated resolve the same refund (e.g. `reconcile-item:<id>`). */
  idempotencyKey: string;
  createdBy: string;
  actor: Actor;
  /** Kaspi's own id of the refund, when the registry gives one. */
  kaspiRef?: string | null;
  /** Our declined/failed refund this one stands for (Kaspi paid it after all). */
  replacesRefundId?: string | null;
}

/**
 * A refund Kaspi already made (in its cabinet, by e-mail) that a registry listed and a person
 * confirmed (registries-seed-notes §1.7, `record-refund`): stored with origin `registry` as success,
 * nothing sent to Kaspi, and the billing told once like every success (embedded: debited in the same
 * transaction; remote: after the commit, `Idempotency-Key: refund:<id>`, repeated by the poller
 * until it has heard). The idempotency key and the payment's lock make a repeat the same refund.
 */
export class RecordedRefunds {
  constructor(
    private readonly db: Db,
    private readonly store: RefundStore,
    private readonly payments: PaymentStore,
    private readonly settlement: RefundSettlement,
  ) {}

  async record(input: RecordDoneRefund): Promise<{ refund: Refund; created: boolean }> {
    const earlier = await this.store.findByIdempotencyKey(input.idempotencyKey);
    if (earlier) return { refund: same(earlier, input), created: false };
    let id: string;
    try {
      id = await transactionWithRetry(this.db, 'record refund', async (trx) => {
        const p = await this.payments.findForRefund(trx, 'kaspi', input.txnId);
        if (!p)
          throw new AppError('payment_not_found', `no Kaspi payment with txn_id ${input.txnId}`, {
            httpStatus: 404,
          });
        if (p.state !== 'credited')
          throw new AppError(
            'payment_not_credited',
            `payment ${input.txnId} is ${p.state}: the billing holds no credit to take back`,
            { httpStatus: 409 },
          );
        await this.payments.markRefundFiled(trx, p.id);
        const held = await this.store.heldAmount(trx, p.id);
        if (held + input.amount > p.amount)
          throw new AppError(
            'refund_exceeds_payment',
            `refund ${formatTenge(input.amount)} is above what is left of payment ${input.txnId}: ${formatTenge(Math.max(0, p.amount - held))} of ${formatTenge(p.amount)}`,
            { httpStatus: 422 },
          );
        const refundId = await this.store.insert(trx, {
          refundIdentificator: randomUUID(),
          idempotencyKey: input.idempotencyKey,
          paymentId: p.id,
          txnId: input.txnId,
          account: p.account,
          amount: input.amount,
          returnAmount: input.amount,
          amountUnit: 'tiyn',
          reason: input.reason,
          createdBy: input.createdBy,
          nextPollAt: null,
          origin: 'registry',
        });
        // Kaspi made it: success now. A remote billing is due for its notice at once.
        await this.store.transition(trx, refundId, ['new'], {
          status: 'success',
          requestIdentificator: input.kaspiRef ?? null,
          nextPollAt: this.settlement.billingInTransaction ? null : dbTime(),
        });
        const stored = (await this.store.findById(refundId, trx)) as Refund;
        await this.settlement.settleRecorded(trx, stored);
        await audit.record(trx, {
          actor: input.actor,
          action: 'refund.recorded',
          target: { type: 'refund', id: refundId },
          details: {
            txnId: input.txnId,
            paymentId: String(p.id),
            amount: formatTenge(input.amount),
            reason: input.reason,
            origin: 'registry',
            kaspiRef: input.kaspiRef ?? null,
            replacesRefundId: input.replacesRefundId ?? null,
          },
        });
        return refundId;
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const winner = await this.store.findByIdempotencyKey(input.idempotencyKey);
      if (!winner) throw e;
      return { refund: same(winner, input), created: false };
    }
    await this.settlement.notifyRemote((await this.store.findById(id)) as Refund);
    return { refund: (await this.store.findById(id)) as Refund, created: true };
  }
}

function same(earlier: Refund, input: RecordDoneRefund): Refund {
  if (earlier.txnId === input.txnId && earlier.amount === input.amount) return earlier;
  throw new ConflictError('idempotency key already used for another refund', { refundId: earlier.id });
}
