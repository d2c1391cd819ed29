import { PROCEDURE } from '../../db/migrations/20261125090000_pay_account_procedure.js';
import { dbTime, type Db } from '../db/db.js';
import type { Tiyn } from '../payments/money.js';

/** A pay to record and credit at once; the fields of the payment row. */
export interface OneCallPayment {
  source: 'kaspi' | 'jetpay';
  txnId: string;
  account: string;
  amount: Tiyn;
  txnDateRaw: string | null;
  txnDate: string | null;
  extra: Record<string, string> | null;
  /** The comment a credited payment answers with. */
  comment: string;
  /** The billing reference stored with it. */
  billingRef: string;
}

/** The statements as better-sqlite3 prepares them (its Statement, reduced to what we call). */
interface SqliteStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<T>(fn: () => T): { immediate(): T };
}
interface MysqlConnection {
  query(sql: string, values: unknown[], cb: (err: Error | null, result: unknown) => void): void;
}
interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<unknown>;
}

const SQLITE_SQL = {
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
type SqliteStatements = Record<keyof typeof SQLITE_SQL, SqliteStatement>;

/** Thrown inside the SQLite transaction to roll it back when there is no such account. */
const NO_ACCOUNT = Symbol('no active account');

/**
 * The common pay, a payment for an active account of the embedded billing, recorded and credited
 * in one database call: on MySQL one CALL of a stored procedure, on SQLite one synchronous
 * transaction on the connection. Measured, the round trips between the statements cost more than
 * the statements themselves (docs/performance.md; decision 009).
 *
 * The same writes in the same order as the general path (the payment under its unique key, the
 * balance, the ledger line), all in one transaction, so exactly-once rests on the same keys:
 * a duplicate txn_id throws the unique violation, a deadlock the retryable error, and nothing is
 * written either way. Null when the account is not an active account (nothing written): the
 * caller takes the general path, which knows orders and refusals.
 */
export class OneCallCredit {
  private readonly sqliteStatements = new WeakMap<object, SqliteStatements>();

  constructor(private readonly db: Db) {}

  async run(p: OneCallPayment): Promise<string | null> {
    const now = dbTime();
    const extra = p.extra && Object.keys(p.extra).length > 0 ? JSON.stringify(p.extra) : null;
    if (this.db.dialect === 'mysql') {
      const rows = await this.queryMysql(`CALL \`${PROCEDURE}\`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
        p.source,
        p.txnId,
        p.account,
        p.amount,
        p.txnDateRaw,
        p.txnDate,
        extra,
        p.comment,
        p.billingRef,
        now,
      ]);
      const id = (rows as [{ id: string | null }[]])[0][0]?.id;
      return id == null ? null : String(id);
    }
    return this.runSqlite(p, extra, now);
  }

  /**
   * One statement on a connection of knex's pool, without knex's runner around it: the same pool
   * (size, acquire timeout, a dead connection dropped on its next acquire), a tenth of the CPU.
   */
  private async queryMysql(sql: string, values: unknown[]): Promise<unknown> {
    const client = this.db.knex.client as PoolClient;
    const conn = (await client.acquireConnection()) as MysqlConnection;
    try {
      return await new Promise((resolve, reject) => {
        conn.query(sql, values, (err, result) => (err ? reject(err) : resolve(result)));
      });
    } finally {
      await client.releaseConnection(conn);
    }
  }

  private async runSqlite(p: OneCallPayment, extra: string | null, now: string): Promise<string | null> {
    // knex's pool for SQLite holds one connection; taking it keeps every other statement out meanwhile.
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

  private statementsFor(conn: SqliteConnection): SqliteStatements {
    let st = this.sqliteStatements.get(conn);
    if (!st) {
      st = {
        insertPayment: conn.prepare(SQLITE_SQL.insertPayment),
        creditBalance: conn.prepare(SQLITE_SQL.creditBalance),
        ledgerLine: conn.prepare(SQLITE_SQL.ledgerLine),
      };
      this.sqliteStatements.set(conn, st);
    }
    return st;
  }
}
