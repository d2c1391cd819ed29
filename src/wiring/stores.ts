import { AuditStore } from '../audit/audit-log.js';
import { AccountStore } from '../billing/account-store.js';
import type { Config } from '../config/config.js';
import type { Db, DbOptions } from '../db/db.js';
import { RequestLog } from '../http/request-log.js';
import { DepositStore } from '../payments/deposit-store.js';
import { PaymentStore } from '../payments/payment-store.js';
import { OneCallCredit } from '../payments/record-and-credit/one-call.js';
import { RefundStore } from '../refunds/refund-store.js';

/** The stores every capability shares; a capability's own stores are made where it is wired. */
export interface Stores {
  accounts: AccountStore;
  /** The common pay (an active account) recorded and credited in one database call. */
  oneCall: OneCallCredit;
  payments: PaymentStore;
  refunds: RefundStore;
  requestLog: RequestLog;
  /** JetPay's deposits: rows of `payments`, written by src/payments only. */
  deposits: DepositStore;
  /** The audit log, to read; entries are written with `audit.record(trx, ...)` in each change's transaction. */
  audit: AuditStore;
}

/** The pool's settings from the config: size, the COMMIT retry, Galera's causal reads. */
export function dbOptions(config: Config): DbOptions {
  return {
    poolMax: config.DB_POOL_MAX,
    commitAttempts: config.DB_COMMIT_ATTEMPTS,
    ...(config.DB_WSREP_SYNC_WAIT === undefined ? {} : { wsrepSyncWait: config.DB_WSREP_SYNC_WAIT }),
  };
}

export function createStores(db: Db): Stores {
  const payments = new PaymentStore(db);
  return {
    accounts: new AccountStore(db),
    oneCall: new OneCallCredit(db),
    payments,
    refunds: new RefundStore(db),
    requestLog: new RequestLog(db),
    deposits: new DepositStore(db, payments),
    audit: new AuditStore(db),
  };
}
