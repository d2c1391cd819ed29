import type { Knex } from 'knex';
import type { Tiyn } from '../shared/money.js';
import type { PaymentFlags } from './payment-flags.js';
import type { PaymentSource, PaymentStore } from './payment-store.js';

/**
 * Payments a channel starts before the money moves (a Kaspi QR purchase): recorded in
 * `awaiting_payment`, then either credited through PaymentService.creditStored(id,
 * ['awaiting_payment']) (the one exactly-once path) or declined. Only src/payments writes the
 * payments table; a channel asks here.
 */
export class AwaitingPayments {
  constructor(
    private readonly payments: PaymentStore,
    private readonly flags: PaymentFlags,
  ) {}

  /** Inside the caller's transaction (its own details row commits with it); the unique key guards txn_id. */
  async record(
    trx: Knex.Transaction,
    p: { source: PaymentSource; txnId: string; account: string; amount: Tiyn },
  ): Promise<string> {
    return this.payments.insert(trx, { ...p, state: 'awaiting_payment' });
  }

  /** A final no before any credit (Kaspi said Error); false when it had moved on already. */
  async decline(id: string, comment: string): Promise<boolean> {
    return this.payments.transition(undefined, id, ['awaiting_payment'], { state: 'declined', comment });
  }

  /**
   * A reason for a person to look at the payment (Kaspi QR: paid with another TotalAmount than
   * asked); nothing about the payment's state or amount changes. True when this call added it.
   */
  async flag(id: string, reason: string): Promise<boolean> {
    return this.flags.add(id, reason);
  }

  async flagsOf(id: string): Promise<string[]> {
    return this.flags.of(id);
  }
}
