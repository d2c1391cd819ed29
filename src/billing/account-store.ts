import type { Knex } from 'knex';
import { dbTime, type Db } from '../db/db.js';
import { poolRows, rawRows, rawWrite } from '../db/raw-sql.js';
import { toTiyn, type Tiyn } from '../shared/money.js';
import type { OrderStatus } from './billing.js';

export interface Account {
  account: string;
  name: string;
  balance: Tiyn;
  status: 'active' | 'closed';
  createdAt: string;
  updatedAt: string;
}

export interface Order {
  number: string;
  account: string | null;
  amount: Tiyn;
  paidAmount: Tiyn;
  status: OrderStatus;
  paidTxnId: string | null;
  description: string;
  createdAt: string;
  updatedAt: string;
}

type Row = Record<string, unknown>;

const toAccount = (r: Row): Account => ({
  account: String(r.account),
  name: String(r.name ?? ''),
  balance: toTiyn(r.balance),
  status: r.status === 'closed' ? 'closed' : 'active',
  createdAt: String(r.created_at),
  updatedAt: String(r.updated_at),
});

const toOrder = (r: Row): Order => ({
  number: String(r.number),
  account: r.account == null ? null : String(r.account),
  amount: toTiyn(r.amount),
  paidAmount: toTiyn(r.paid_amount ?? 0),
  status: r.status as OrderStatus,
  paidTxnId: r.paid_txn_id == null ? null : String(r.paid_txn_id),
  description: String(r.description ?? ''),
  createdAt: String(r.created_at),
  updatedAt: String(r.updated_at),
});

interface WaitingRead {
  account: string;
  resolve(a: Account | null): void;
  reject(e: unknown): void;
}

/** Accounts one grouped read asks for at most (a statement stays small whatever the load). */
const MAX_GROUPED_READS = 100;

/** Embedded billing's accounts and orders. */
export class AccountStore {
  private waiting: WaitingRead[] = [];
  private reading = false;

  constructor(private readonly db: Db) {}

  /**
   * The account read of a check, grouped: one read in flight at a time, and the checks arriving
   * meanwhile share the next one (`where account in (...)`), as pays share their call (decision
   * 009). The same committed rows a read of its own would see; a round trip costs this process more
   * CPU than the query does, so at load a check pays for a share of one. An account the group read
   * does not return under the exact name asked (none, or the collation's case or trailing-space
   * match) is read again alone, so the answer is always what `getAccount` gives.
   */
  readForCheck(account: string): Promise<Account | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ account, resolve, reject });
      if (!this.reading) void this.readGroup();
    });
  }

  private async readGroup(): Promise<void> {
    this.reading = true;
    while (this.waiting.length > 0) {
      const group = this.waiting.splice(0, MAX_GROUPED_READS);
      try {
        const names = [...new Set(group.map((w) => w.account))];
        const rows = await poolRows(
          this.db,
          `select * from \`accounts\` where \`account\` in (${names.map(() => '?').join(', ')})`,
          names,
        );
        const found = new Map(rows.map((r) => [String(r.account), r]));
        for (const w of group) {
          const r = found.get(w.account);
          if (r) w.resolve(toAccount(r));
          else this.getAccount(w.account).then(w.resolve, w.reject);
        }
      } catch (e) {
        for (const w of group) w.reject(e);
      }
    }
    this.reading = false;
  }

  private q(trx?: Knex.Transaction) {
    return trx ?? this.db.knex;
  }

  async addAccount(
    a: { account: string; name?: string; balance?: Tiyn },
    trx?: Knex.Transaction,
  ): Promise<Account> {
    const now = dbTime();
    await this.q(trx)('accounts').insert({
      account: a.account,
      name: a.name ?? '',
      balance: a.balance ?? 0,
      status: 'active',
      created_at: now,
      updated_at: now,
    });
    return (await this.getAccount(a.account, trx)) as Account;
  }

  async getAccount(account: string, trx?: Knex.Transaction): Promise<Account | null> {
    // Every check runs this: raw SQL, no query builder.
    const [r] = await rawRows(this.db, this.q(trx), 'select * from `accounts` where `account` = ? limit 1', [
      account,
    ]);
    return r ? toAccount(r) : null;
  }

  async listAccounts(opts: { limit?: number; offset?: number } = {}): Promise<Account[]> {
    const rows = await this.db
      .knex('accounts')
      .orderBy('id')
      .limit(opts.limit ?? 100)
      .offset(opts.offset ?? 0);
    return rows.map(toAccount);
  }

  async setAccountStatus(
    account: string,
    status: 'active' | 'closed',
    trx?: Knex.Transaction,
  ): Promise<boolean> {
    const n = await this.q(trx)('accounts').where({ account }).update({ status, updated_at: dbTime() });
    return n > 0;
  }

  /** Adds to an active account's balance; false when there is no such active account. */
  async creditBalance(trx: Knex.Transaction, account: string, amount: Tiyn): Promise<boolean> {
    const { affected } = await rawWrite(
      this.db,
      trx,
      "update `accounts` set `balance` = `balance` + ?, `updated_at` = ? where `account` = ? and `status` = 'active'",
      [amount, dbTime(), account],
    );
    return affected === 1;
  }

  async addOrder(
    o: {
      number: string;
      amount: Tiyn;
      account?: string | null;
      description?: string;
    },
    trx?: Knex.Transaction,
  ): Promise<Order> {
    const now = dbTime();
    await this.q(trx)('orders').insert({
      number: o.number,
      account: o.account ?? null,
      amount: o.amount,
      paid_amount: 0,
      status: 'open',
      description: o.description ?? '',
      created_at: now,
      updated_at: now,
    });
    return (await this.getOrder(o.number, trx)) as Order;
  }

  async getOrder(number: string, trx?: Knex.Transaction, forUpdate = false): Promise<Order | null> {
    let q = this.q(trx)('orders').where({ number });
    if (forUpdate && this.db.dialect === 'mysql') q = q.forUpdate();
    const r = await q.first();
    return r ? toOrder(r) : null;
  }

  async listOrders(opts: { limit?: number; offset?: number } = {}): Promise<Order[]> {
    const rows = await this.db
      .knex('orders')
      .orderBy('id')
      .limit(opts.limit ?? 100)
      .offset(opts.offset ?? 0);
    return rows.map(toOrder);
  }

  async cancelOrder(number: string, trx?: Knex.Transaction): Promise<boolean> {
    const n = await this.q(trx)('orders')
      .where({ number, status: 'open' })
      .update({ status: 'cancelled', updated_at: dbTime() });
    return n > 0;
  }

  async markOrderPaid(
    trx: Knex.Transaction,
    number: string,
    amount: Tiyn,
    txnId: string,
    full: boolean,
  ): Promise<void> {
    await trx('orders')
      .where({ number })
      .update({
        paid_amount: trx.raw('paid_amount + ?', [amount]),
        status: full ? 'paid' : 'open',
        paid_txn_id: txnId,
        updated_at: dbTime(),
      });
  }

  async addLedgerEntry(
    trx: Knex.Transaction,
    e: {
      paymentId: string;
      kind: 'credit' | 'refund';
      ref?: string;
      account: string | null;
      orderNumber?: string | null;
      amount: Tiyn;
    },
  ): Promise<string> {
    const { insertId } = await rawWrite(
      this.db,
      trx,
      'insert into `account_ledger` (`payment_id`, `kind`, `ref`, `account`, `order_number`, `amount`, `created_at`) values (?, ?, ?, ?, ?, ?, ?)',
      [e.paymentId, e.kind, e.ref ?? '', e.account, e.orderNumber ?? null, e.amount, dbTime()],
    );
    return insertId;
  }

  /** Where a payment's credit went (its ledger line), or null when it has none. */
  async creditLine(
    trx: Knex.Transaction,
    paymentId: string,
  ): Promise<{ account: string | null; orderNumber: string | null } | null> {
    const r = await trx('account_ledger').where({ payment_id: paymentId, kind: 'credit' }).first();
    if (!r) return null;
    return {
      account: r.account == null ? null : String(r.account),
      orderNumber: r.order_number == null ? null : String(r.order_number),
    };
  }

  /** Takes an amount back (a refund): the balance may go below zero, the money has already left. */
  async debitBalance(trx: Knex.Transaction, account: string, amount: Tiyn): Promise<void> {
    await trx('accounts')
      .where({ account })
      .update({ balance: trx.raw('balance - ?', [amount]), updated_at: dbTime() });
  }
}
