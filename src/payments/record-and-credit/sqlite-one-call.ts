import { dbTime, type Db } from '../../db/db.js';
import { extraJson } from '../payment-store.js';
import type { OneCallPayment, OneCallStats, PoolClient } from './one-call-payment.js';

/** The statements as better-sqlite3 prepares them (its Statement, reduced to what we call). */
interface SqliteStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<T>(fn: () => T): { immediate(): T };
}

/**
 * The same rows as the general path (./general.ts) and the MySQL procedure: the columns are those
 * of ./one-call-columns.ts, and test/payments/one-call-parity.test.ts compares the rows written.
 */
const SQL = {
  insertPayment:
    'insert into `payments` (`source`, `txn_id`, `account`, `amount`, `txn_date_raw`, `txn_date`, `state`, `result`, ' +
    '`comment`, `extra`, `billing_ref`, `attempts`, `next_attempt_at`, `received_at`, `updated_at`, `credited_at`) ' +
    "values (?, ?, ?, ?, ?, ?, 'credited', 0, ?, ?, ?, 0, null, ?, ?, ?)",
  creditBalance:
    "update `accounts` set `balance` = `balance` + ?, `updated_at` = ? where `account` = ? and `status` = 'active'",
  ledgerLine:
    'insert into `account_ledger` (`payment_id`, `kind`, `ref`, `account`, `order_number`, `amount`, `created_at`) ' +
    "values (?, 'credit', '', ?, null, ?, ?)",
};
type Statements = Record<keyof typeof SQL, SqliteStatement>;

/** Thrown inside the transaction to roll it back when there is no such account. */
const NO_ACCOUNT = Symbol('no active account');

/**
 * SQLite: the common pay as one synchronous transaction on knex's single connection (taking it
 * keeps every other statement out meanwhile). A duplicate txn_id throws SQLite's unique violation;
 * null (nothing written) when the account is not an active one.
 */
export class SqliteOneCall {
  private readonly statements = new WeakMap<object, Statements>();

  constructor(
    private readonly db: Db,
    private readonly stats: OneCallStats,
  ) {}

  async run(p: OneCallPayment): Promise<string | null> {
    this.stats.calls++;
    this.stats.pays++;
    const now = dbTime();
    const extra = extraJson(p.extra);
    const client = this.db.knex.client as PoolClient;
    const conn = (await client.acquireConnection()) as SqliteConnection;
    try {
      const st = this.statementsFor(conn);
      return conn
        .transaction(() => {
          const payment = String(
            st.insertPayment.run(
              p.source,
              p.txnId,
              p.account,
              p.amount,
              p.txnDateRaw,
              p.txnDate,
              p.comment,
              extra,
              p.billingRef,
              now,
              now,
              now,
            ).lastInsertRowid,
          );
          if (st.creditBalance.run(p.amount, now, p.account).changes !== 1) throw NO_ACCOUNT;
          st.ledgerLine.run(payment, p.account, p.amount, now);
          return payment as string | null;
        })
        .immediate();
    } catch (e) {
      if (e === NO_ACCOUNT) return null;
      throw e;
    } finally {
      await client.releaseConnection(conn);
    }
  }

  private statementsFor(conn: SqliteConnection): Statements {
    let st = this.statements.get(conn);
    if (!st) {
      st = {
        insertPayment: conn.prepare(SQL.insertPayment),
        creditBalance: conn.prepare(SQL.creditBalance),
        ledgerLine: conn.prepare(SQL.ledgerLine),
      };
      this.statements.set(conn, st);
    }
    return st;
  }
}
