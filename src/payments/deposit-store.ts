import { randomInt } from 'node:crypto';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import { toTiyn, type Tiyn } from '../shared/money.js';
import { PaymentFlags } from './payment-flags.js';
import type { Payment, PaymentStore } from './payment-store.js';

/** A JetPay deposit: a payment (source 'jetpay', txn_id = our payment_id) and what only JetPay has. */
export interface Deposit extends Payment {
  entityId: string | null;
  /** What check_deposit announced; `amount` is what the success callback said was paid. */
  announcedAmount: Tiyn | null;
  /** Comma-separated reasons a person must look at this payment; null when none. */
  flag: string | null;
}

export type DepositFlag =
  | 'success_after_decline'
  | 'decline_after_success'
  | 'amount_mismatch'
  | 'credit_refused'
  | 'currency_mismatch';

export interface NewDeposit {
  account: string;
  entityId: string;
  amount: Tiyn;
  extra: Record<string, string> | null;
}

const ID_ATTEMPTS = 5;

/**
 * 18 random digits, no leading zero: unguessable, so a payment_id tells nothing of our volume, and
 * above 2^53, so any code path that turns it into a JS number breaks visibly in the tests.
 */
export function newPaymentId(): string {
  let id = String(randomInt(1, 10));
  while (id.length < 18) id += String(randomInt(0, 1_000_000)).padStart(6, '0');
  return id.slice(0, 18);
}

/**
 * JetPay's deposits: their reads and writes on the payments table (only src/payments writes it);
 * the generic ones stay in PaymentStore.
 */
export class DepositStore {
  constructor(
    private readonly db: Db,
    private readonly payments: PaymentStore,
  ) {}

  /** Stores a deposit awaiting its callback; the unique (source, txn_id) key guards the id. */
  async create(d: NewDeposit): Promise<Deposit> {
    for (let attempt = 1; ; attempt++) {
      const paymentId = newPaymentId();
      try {
        await this.db.knex.transaction(async (trx) => {
          const id = await this.payments.insert(trx, {
            source: 'jetpay',
            txnId: paymentId,
            account: d.account,
            amount: d.amount,
            state: 'awaiting_callback',
            extra: d.extra,
          });
          await trx('payments').where({ id }).update({ entity_id: d.entityId, announced_amount: d.amount });
        });
        return (await this.find(paymentId)) as Deposit;
      } catch (e) {
        if (!isUniqueViolation(e) || attempt >= ID_ATTEMPTS) throw e;
      }
    }
  }

  async find(paymentId: string): Promise<Deposit | null> {
    const p = await this.payments.findByTxn('jetpay', paymentId);
    if (!p) return null;
    const r = (await this.db
      .knex('payments')
      .select('entity_id', 'announced_amount', 'flag')
      .where({ id: p.id })
      .first()) as Record<string, unknown>;
    return {
      ...p,
      entityId: r.entity_id == null ? null : String(r.entity_id),
      announcedAmount: r.announced_amount == null ? null : toTiyn(r.announced_amount),
      flag: r.flag == null ? null : String(r.flag),
    };
  }

  /**
   * Records what was actually paid before the credit, so the credit and any later retry of it
   * (which reads the row) use the paid amount. Only while nothing has been decided yet.
   */
  async setPaidAmount(id: string, amount: Tiyn): Promise<boolean> {
    const n = await this.db
      .knex('payments')
      .where({ id, state: 'awaiting_callback' })
      .update({ amount, updated_at: dbTime() });
    return n === 1;
  }

  async decline(id: string, comment: string): Promise<boolean> {
    return this.payments.transition(undefined, id, ['awaiting_callback'], { state: 'declined', comment });
  }

  /**
   * Adds a reason for a person to look, once: true when this call added it (the caller logs the
   * ERROR then), false when it was already there (a replay). Compare-and-set on the old value, so
   * two concurrent flags both land.
   */
  async addFlag(id: string, flag: DepositFlag): Promise<boolean> {
    return new PaymentFlags(this.db).add(id, flag);
  }
}
