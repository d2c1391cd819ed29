import type { Knex } from 'knex';
import { formatTenge } from '../shared/money.js';
import type { AccountStore } from './account-store.js';
import {
  maskName,
  type CreditOutcome,
  type CreditRequest,
  type EmbeddedBilling,
  type Lookup,
} from './billing.js';

/**
 * The billing reference of an embedded credit: the ledger, whose line for the payment is
 * (payment_id, kind 'credit'). Not the line's id, so a pay can be stored already credited in one
 * statement, before its ledger line exists (src/payments/record-and-credit/).
 */
export const EMBEDDED_CREDIT_REF = 'ledger';

export interface SqlBillingOptions {
  /** Order mode: accept a payment below the amount still due (the order stays open). */
  allowPartialOrderPayment: boolean;
}

/**
 * The embedded billing. `account` names an account or, when no account has that id, an order.
 * A credit runs inside the caller's transaction: the payment row, the balance and the ledger
 * line commit together.
 */
export class SqlBilling implements EmbeddedBilling {
  readonly kind = 'sql' as const;

  constructor(
    private readonly accounts: AccountStore,
    private readonly opts: SqlBillingOptions,
  ) {}

  async lookup(account: string): Promise<Lookup> {
    const a = await this.accounts.readForCheck(account);
    if (a) {
      if (a.status !== 'active') return { kind: 'not_found' };
      return {
        kind: 'account',
        account: a.account,
        name: a.name,
        balance: a.balance,
        fields: [
          { name: 'fio', value: maskName(a.name) },
          { name: 'balance', value: formatTenge(a.balance) },
        ],
      };
    }
    const o = await this.accounts.getOrder(account);
    if (!o) return { kind: 'not_found' };
    const due = o.amount - o.paidAmount;
    return {
      kind: 'order',
      number: o.number,
      account: o.account,
      due,
      status: o.status,
      fields: [
        { name: 'order', value: o.description || o.number },
        { name: 'amount', value: formatTenge(due) },
      ],
    };
  }

  async creditInTransaction(trx: Knex.Transaction, req: CreditRequest): Promise<CreditOutcome> {
    if (await this.accounts.creditBalance(trx, req.account, req.amount)) {
      await this.accounts.addLedgerEntry(trx, {
        paymentId: req.paymentId,
        kind: 'credit',
        account: req.account,
        amount: req.amount,
      });
      return { ok: true, billingRef: EMBEDDED_CREDIT_REF };
    }
    const order = await this.accounts.getOrder(req.account, trx, true);
    if (!order) return { ok: false, result: 1, comment: 'Account not found' };
    if (order.status === 'cancelled') return { ok: false, result: 2, comment: 'Order cancelled' };
    if (order.status === 'paid') return { ok: false, result: 3, comment: 'Order already paid' };
    const due = order.amount - order.paidAmount;
    if (req.amount > due) return { ok: false, result: 5, comment: 'Sum is above the amount due' };
    if (req.amount < due && !this.opts.allowPartialOrderPayment) {
      return { ok: false, result: 5, comment: 'Sum does not match the amount due' };
    }
    await this.accounts.markOrderPaid(trx, order.number, req.amount, req.txnId, req.amount === due);
    await this.accounts.addLedgerEntry(trx, {
      paymentId: req.paymentId,
      kind: 'credit',
      account: order.account,
      orderNumber: order.number,
      amount: req.amount,
    });
    return { ok: true, billingRef: EMBEDDED_CREDIT_REF, orderNumber: order.number };
  }
}
