import type { Billing, Field } from '../billing/billing.js';
import { isRetryableTxError, isUniqueViolation, type Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import type { Tiyn } from './money.js';
import { NotFoundError } from '../http/errors.js';
import {
  FINAL_STATES,
  type Payment,
  type PaymentSource,
  type PaymentState,
  type PaymentStore,
} from './payment-store.js';

const log = getLogger('payments');

export type KaspiResult = 0 | 1 | 2 | 3 | 4 | 5;

export interface CheckOutcome {
  result: KaspiResult;
  comment: string;
  fields: Field[];
}

export interface PayRequest {
  source: PaymentSource;
  txnId: string;
  account: string;
  amount: Tiyn;
  txnDateRaw: string | null;
  /** UTC instant, as stored. */
  txnDate: string | null;
  /** The same instant with the payer's offset, for the billing contract. */
  txnDateIso: string | null;
  extra: Record<string, string> | null;
}

export interface PayOutcome {
  result: KaspiResult;
  comment: string;
  /** null only when nothing could be recorded (the database failed before the row existed). */
  prvTxn: string | null;
  amount: Tiyn;
  /** true when this call recorded the payment; false for a replay of an earlier one. */
  created: boolean;
}

export const COMMENT_OK = 'OK';
export const COMMENT_PROCESSING = 'Payment is being processed';
export const COMMENT_REUSED = 'txn_id already used with other parameters';

const MAX_TX_ATTEMPTS = 4;

/**
 * The check/pay flow, exactly once per (source, txn_id).
 *
 * The database decides: the payment row is inserted under a unique key inside the same
 * transaction as the embedded credit. Whoever inserts first owns the payment; a duplicate,
 * however concurrent, hits the key, waits for the owner to commit, and replays its stored answer.
 */
export class PaymentService {
  constructor(
    private readonly db: Db,
    private readonly payments: PaymentStore,
    private readonly billing: Billing,
  ) {}

  async check(account: string): Promise<CheckOutcome> {
    const found = await this.billing.lookup(account);
    switch (found.kind) {
      case 'not_found':
        return { result: 1, comment: 'Account not found', fields: [] };
      case 'account':
        return { result: 0, comment: COMMENT_OK, fields: found.fields };
      case 'order':
        if (found.status === 'paid')
          return { result: 3, comment: 'Order already paid', fields: found.fields };
        if (found.status === 'cancelled')
          return { result: 2, comment: 'Order cancelled', fields: found.fields };
        return { result: 0, comment: COMMENT_OK, fields: found.fields };
    }
  }

  async pay(req: PayRequest): Promise<PayOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.payOnce(req);
      } catch (e) {
        if (isUniqueViolation(e)) return this.replay(req);
        if (isRetryableTxError(e) && attempt < MAX_TX_ATTEMPTS) {
          log.warn('pay transaction aborted by the database, retrying', { txnId: req.txnId, attempt });
          await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
          continue;
        }
        return this.afterFailure(req, e);
      }
    }
  }

  /** The outcome a later request for this txn_id must get, from what is stored. */
  answerFor(p: Payment): PayOutcome {
    if (FINAL_STATES.includes(p.state)) {
      return {
        result: (p.result ?? 5) as KaspiResult,
        comment: p.comment ?? '',
        prvTxn: p.id,
        amount: p.amount,
        created: false,
      };
    }
    return { result: 4, comment: COMMENT_PROCESSING, prvTxn: p.id, amount: p.amount, created: false };
  }

  /**
   * Credits a payment that is already stored (JetPay's deposit, once its success callback comes).
   * The conditional move out of one of `from` decides who credits it: a concurrent or repeated
   * call finds the state moved on and gets the stored answer instead.
   */
  async creditStored(paymentId: string, from: readonly PaymentState[], amount?: Tiyn): Promise<PayOutcome> {
    if (this.billing.kind !== 'sql') throw new Error('only the embedded billing is wired in this build');
    const billing = this.billing;
    return this.db.knex.transaction(async (trx) => {
      const p = await this.payments.findById(paymentId, trx);
      if (!p) throw new NotFoundError('payment');
      if (!(await this.payments.transition(trx, p.id, from, { state: 'crediting' }))) {
        const now = await this.payments.findById(paymentId, trx);
        return this.answerFor(now as Payment);
      }
      const credit = amount ?? p.amount;
      const outcome = await billing.creditInTransaction(trx, {
        paymentId: p.id,
        source: p.source,
        txnId: p.txnId,
        account: p.account,
        amount: credit,
        txnDate: p.txnDate,
      });
      if (outcome.ok) {
        await this.payments.transition(trx, p.id, ['crediting'], {
          state: 'credited',
          result: 0,
          comment: COMMENT_OK,
          billingRef: outcome.billingRef,
          orderNumber: outcome.orderNumber ?? null,
        });
        log.info('payment credited', { source: p.source, txnId: p.txnId, prvTxn: p.id, amount: credit });
        return { result: 0, comment: COMMENT_OK, prvTxn: p.id, amount: credit, created: true } as PayOutcome;
      }
      await this.payments.transition(trx, p.id, ['crediting'], {
        state: 'failed',
        result: outcome.result,
        comment: outcome.comment,
      });
      return {
        result: outcome.result,
        comment: outcome.comment,
        prvTxn: p.id,
        amount: credit,
        created: true,
      };
    });
  }

  private async payOnce(req: PayRequest): Promise<PayOutcome> {
    if (this.billing.kind !== 'sql') throw new Error('only the embedded billing is wired in this build');
    const billing = this.billing;
    return this.db.knex.transaction(async (trx) => {
      const id = await this.payments.insert(trx, {
        source: req.source,
        txnId: req.txnId,
        account: req.account,
        amount: req.amount,
        txnDateRaw: req.txnDateRaw,
        txnDate: req.txnDate,
        extra: req.extra,
        state: 'crediting',
      });
      const outcome = await billing.creditInTransaction(trx, {
        paymentId: id,
        source: req.source,
        txnId: req.txnId,
        account: req.account,
        amount: req.amount,
        txnDate: req.txnDateIso,
      });
      if (outcome.ok) {
        await this.payments.transition(trx, id, ['crediting'], {
          state: 'credited',
          result: 0,
          comment: COMMENT_OK,
          billingRef: outcome.billingRef,
          orderNumber: outcome.orderNumber ?? null,
        });
        log.info('payment credited', {
          txnId: req.txnId,
          prvTxn: id,
          account: req.account,
          amount: req.amount,
        });
        return {
          result: 0,
          comment: COMMENT_OK,
          prvTxn: id,
          amount: req.amount,
          created: true,
        } as PayOutcome;
      }
      await this.payments.transition(trx, id, ['crediting'], {
        state: 'failed',
        result: outcome.result,
        comment: outcome.comment,
      });
      log.info('payment refused by billing', { txnId: req.txnId, prvTxn: id, result: outcome.result });
      return {
        result: outcome.result,
        comment: outcome.comment,
        prvTxn: id,
        amount: req.amount,
        created: true,
      };
    });
  }

  private async replay(req: PayRequest): Promise<PayOutcome> {
    const p = await this.payments.findByTxn(req.source, req.txnId);
    if (!p) throw new Error(`unique key hit but no payment ${req.source}:${req.txnId}`);
    if (p.account !== req.account || p.amount !== req.amount) {
      log.error('txn_id reused with other parameters: refused, nothing stored', {
        txnId: req.txnId,
        stored: { account: p.account, amount: p.amount, prvTxn: p.id },
        received: { account: req.account, amount: req.amount },
      });
      return { result: 5, comment: COMMENT_REUSED, prvTxn: null, amount: req.amount, created: false };
    }
    return this.answerFor(p);
  }

  /**
   * Something broke that is not a protocol answer (the database went away, a bug). If the payment
   * is stored, its stored state answers. If not, nothing was credited; we still answer 4, not 5:
   * 5 is final for Kaspi, and a repeat after the fault will record the payment properly.
   */
  private async afterFailure(req: PayRequest, e: unknown): Promise<PayOutcome> {
    log.error('pay failed unexpectedly; answered as in processing', { txnId: req.txnId, err: e });
    try {
      const p = await this.payments.findByTxn(req.source, req.txnId);
      if (p && p.account === req.account && p.amount === req.amount) return this.answerFor(p);
    } catch {
      // the database is still down: the answer below holds
    }
    return { result: 4, comment: COMMENT_PROCESSING, prvTxn: null, amount: req.amount, created: false };
  }
}
