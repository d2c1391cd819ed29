import type { Knex } from 'knex';
import type { AccountStore } from '../billing/account-store.js';
import type { Billing } from '../billing/billing.js';
import type { Tiyn } from '../shared/money.js';

/** A refund that reached SUCCESS, as the billing side hears of it. */
export interface RefundNotice {
  refundId: string;
  paymentId: string; // our prv_txn
  txnId: string;
  account: string;
  amount: Tiyn;
}

/**
 * "Tell billing a refund succeeded", once per refund. Two kinds, like `Billing`:
 * - `sql`: the debit runs inside the transaction that moves the refund to success, so the two
 *   commit together; the ledger's unique (payment_id, kind, ref) makes a second debit impossible.
 * - `http`: called after that commit with `Idempotency-Key: refund:<id>`; the poller repeats it
 *   until it goes through (billing_notified_at stays empty until then).
 */
export interface EmbeddedRefundBilling {
  readonly kind: 'sql';
  /** Returns a reference to what was written (the ledger line). */
  debitInTransaction(trx: Knex.Transaction, n: RefundNotice): Promise<string>;
}

export interface RemoteRefundBilling {
  readonly kind: 'http';
  /** Throws (UpstreamError, transient) while the outcome is unknown; a repeat must be harmless. */
  notifyRefund(n: RefundNotice): Promise<{ billingRef: string | null }>;
}

export type RefundBilling = EmbeddedRefundBilling | RemoteRefundBilling;

/**
 * The embedded billing's side: takes the refunded amount back from the account the payment
 * credited. The balance may go below zero: the money has already left, the ledger must say so.
 * In order mode (the credit went to an order with no account) only the ledger line is written.
 */
export class SqlRefundBilling implements EmbeddedRefundBilling {
  readonly kind = 'sql' as const;

  constructor(private readonly accounts: AccountStore) {}

  async debitInTransaction(trx: Knex.Transaction, n: RefundNotice): Promise<string> {
    const credit = await this.accounts.creditLine(trx, n.paymentId);
    const account = credit ? credit.account : n.account;
    const orderNumber = credit?.orderNumber ?? null;
    // Refund lines carry a negative amount, so a sum over the ledger is the balance's movement.
    const ledgerId = await this.accounts.addLedgerEntry(trx, {
      paymentId: n.paymentId,
      kind: 'refund',
      ref: n.refundId,
      account,
      orderNumber,
      amount: -n.amount,
    });
    if (account !== null) await this.accounts.debitBalance(trx, account, n.amount);
    return `ledger:${ledgerId}`;
  }
}

/**
 * The refund side of whichever billing is configured. The embedded one debits in the refund's
 * transaction. A remote one is told through its `refund(notice)` (`POST {base}/refunds` with
 * `Idempotency-Key: refund:<id>`), which the HTTP billing adapter provides; without it, refunds
 * cannot reach that billing and the service refuses to start rather than lose the news.
 */
export function refundBillingFor(billing: Billing, accounts: AccountStore): RefundBilling {
  if (billing.kind === 'sql') return new SqlRefundBilling(accounts);
  const remote = billing as Billing & {
    refund?: (n: RefundNotice) => Promise<{ billingRef: string | null }>;
  };
  const refund = remote.refund;
  if (typeof refund !== 'function') {
    throw new Error('BILLING_ADAPTER=http: the billing adapter cannot be told of refunds (no refund())');
  }
  return { kind: 'http', notifyRefund: (n) => refund.call(remote, n) };
}
