import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { audit, type Actor } from '../audit/audit-log.js';
import { transactionWithRetry } from '../db/commit-retry.js';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import { AppError, ConflictError, ValidationError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import type { PaymentStore } from '../payments/payment-store.js';
import type { Refund, RefundOrigin, RefundStore } from './refund-store.js';
import { KASPI_TXN_ID, readRefundInput } from './refund-input.js';

export interface RefundSettings {
  amountUnit: 'tenge' | 'tiyn';
  backoffMs: number;
  maxAgeDays: number;
}

export interface CreateRefund {
  txnId: string;
  amount: Tiyn;
  reason: string;
  idempotencyKey?: string | null;
  /** Who asked: `admin-api`, `cli`, `console:<login>` ... */
  createdBy: string;
  /** Who asked, for the audit log (written in the transaction that stores the refund). */
  actor: Actor;
  /** Whose payment: `kaspi` (default, the Refund API) or `kaspi_qr` (txnId = the QrPaymentId; payment/return). */
  source?: 'kaspi' | 'kaspi_qr';
  /**
   * `registry`: filed by a reconciliation resolution. Only then may the payment be `failed` (Kaspi
   * counts as paid a payment we refused): the billing was never credited, so it hears nothing.
   */
  origin?: RefundOrigin;
}

/** A checked request: the amount Kaspi is sent is in REFUND_AMOUNT_UNIT. */
type FilingRequest = Required<CreateRefund> & { returnAmount: number };

/**
 * Filing a Refund API refund in our ledger, before Kaspi hears of it: the checks, the repeat of an
 * idempotency key, and the row with its audit entry, in one transaction. Anything refused is refused
 * before a row exists.
 */
export class RefundFiling {
  constructor(
    private readonly db: Db,
    private readonly store: RefundStore,
    private readonly payments: PaymentStore,
    private readonly settings: RefundSettings,
  ) {}

  /** The stored refund (`created: false` for a repeat of an earlier request with the same key). */
  async record(input: CreateRefund): Promise<{ refund: Refund; created: boolean }> {
    const req = this.validate(input);
    if (req.idempotencyKey) {
      const earlier = await this.store.findByIdempotencyKey(req.idempotencyKey);
      if (earlier) return { refund: sameOrConflict(earlier, req), created: false };
    }

    let id: string;
    try {
      // Run again from the start when the database aborted it for a conflict: on Galera the refund
      // that lost certification to another one of the same payment then sees it in what is held.
      id = await transactionWithRetry(this.db, 'file refund', (trx) => this.checkAndInsert(trx, req), {
        txnId: req.txnId,
      });
    } catch (e) {
      if (req.idempotencyKey && isUniqueViolation(e)) {
        const earlier = await this.store.findByIdempotencyKey(req.idempotencyKey);
        if (earlier) return { refund: sameOrConflict(earlier, req), created: false };
      }
      throw e;
    }
    return { refund: (await this.store.findById(id)) as Refund, created: true };
  }

  private validate(input: CreateRefund): FilingRequest {
    if (!input.actor?.id) throw new Error('a refund needs its actor for the audit log');
    const { reason, idempotencyKey: key } = readRefundInput(input, KASPI_TXN_ID);
    let returnAmount = input.amount;
    if (this.settings.amountUnit === 'tenge') {
      if (input.amount % 100 !== 0) {
        throw new ValidationError(
          `Kaspi takes refunds in whole tenge here (REFUND_AMOUNT_UNIT=tenge): ${formatTenge(input.amount)} has tiyn`,
        );
      }
      returnAmount = input.amount / 100;
    }
    return {
      txnId: input.txnId,
      amount: input.amount,
      reason,
      idempotencyKey: key,
      createdBy: input.createdBy,
      actor: input.actor,
      source: 'kaspi',
      origin: input.origin ?? 'api',
      returnAmount,
    };
  }

  /**
   * The payment is locked (PaymentStore.findForRefund) and written (markRefundFiled) for the check
   * and the insert: on one server the lock orders two refunds of one payment, on Galera the write
   * makes them conflict at certification.
   */
  private async checkAndInsert(trx: Knex.Transaction, req: FilingRequest): Promise<string> {
    const p = await this.payments.findForRefund(trx, 'kaspi', req.txnId);
    if (!p)
      throw new AppError('payment_not_found', `no Kaspi payment with txn_id ${req.txnId}`, {
        httpStatus: 404,
      });
    const refusedButPaid = req.origin === 'registry' && p.state === 'failed';
    if (p.state !== 'credited' && !refusedButPaid) {
      throw new AppError(
        'payment_not_credited',
        `payment ${req.txnId} is ${p.state}, not credited: nothing to refund`,
        {
          httpStatus: 409,
        },
      );
    }
    // The payment's row written before anything is read of its refunds: see markRefundFiled.
    await this.payments.markRefundFiled(trx, p.id);
    const paid = p.amount;
    const held = await this.store.heldAmount(trx, p.id);
    if (held + req.amount > paid) {
      throw new AppError(
        'refund_exceeds_payment',
        `refund ${formatTenge(req.amount)} is above what is left of payment ${req.txnId}: ${formatTenge(Math.max(0, paid - held))} of ${formatTenge(paid)}`,
        { httpStatus: 422, details: { remaining: formatTenge(Math.max(0, paid - held)) } },
      );
    }
    const id = await this.store.insert(trx, {
      refundIdentificator: randomUUID(),
      idempotencyKey: req.idempotencyKey,
      paymentId: p.id,
      txnId: req.txnId,
      account: p.account,
      amount: req.amount,
      returnAmount: req.returnAmount,
      amountUnit: this.settings.amountUnit,
      reason: req.reason,
      createdBy: req.createdBy,
      nextPollAt: dbTime(new Date(Date.now() + this.settings.backoffMs)),
      origin: req.origin,
      billingNotNeeded: refusedButPaid,
    });
    await audit.record(trx, {
      actor: req.actor,
      action: 'refund.filed',
      target: { type: 'refund', id },
      details: {
        txnId: req.txnId,
        paymentId: String(p.id),
        amount: formatTenge(req.amount),
        reason: req.reason,
        origin: req.origin,
        leftBefore: formatTenge(paid - held),
      },
    });
    return id;
  }
}

/** A repeated idempotency key: the same request gets its refund back, another one a 409. */
function sameOrConflict(earlier: Refund, req: { txnId: string; amount: Tiyn; reason: string }): Refund {
  if (earlier.txnId === req.txnId && earlier.amount === req.amount && earlier.reason === req.reason)
    return earlier;
  throw new ConflictError('idempotency key already used for another refund', { refundId: earlier.id });
}
