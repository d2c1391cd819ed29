import type { Db } from '../../db/db.js';
import { MysqlProcedureLane, type OneCallOptions } from './mysql-procedure.js';
import type { OneCallPayment, OneCallStats } from './one-call-payment.js';
import { SqliteOneCall } from './sqlite-one-call.js';

export type { OneCallPayment, OneCallStats } from './one-call-payment.js';

/**
 * The common pay, a payment for an active account of the embedded billing, recorded and credited
 * in one database call: on MySQL one CALL of a stored procedure (./mysql-procedure.ts), on SQLite
 * one synchronous transaction on the connection (./sqlite-one-call.ts). Measured, the round trips
 * between the statements cost more than the statements themselves (docs/performance.md; decision 009).
 *
 * The same writes as the general path (./general.ts: the payment under its unique key, the
 * balance, the ledger line), all in one transaction, so exactly-once rests on the same keys: a
 * duplicate txn_id throws the unique violation, a deadlock the retryable error, and nothing is
 * written either way. Null when the account is not an active account (nothing written): the
 * caller takes the general path, which knows orders and refusals.
 */
export class OneCallCredit {
  readonly stats: OneCallStats = { calls: 0, pays: 0, split: 0 };
  private readonly impl: { run(p: OneCallPayment): Promise<string | null> };

  constructor(db: Db, opts: OneCallOptions = {}) {
    this.impl =
      db.dialect === 'sqlite'
        ? new SqliteOneCall(db, this.stats)
        : new MysqlProcedureLane(db, this.stats, opts);
  }

  run(p: OneCallPayment): Promise<string | null> {
    return this.impl.run(p);
  }
}
