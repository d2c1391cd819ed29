/**
 * What the one call writes, named once for the runtime code and the parity tests. The procedure's
 * SQL itself stays frozen in its migration (db/migrations/20261125090000_pay_accounts_procedure.ts);
 * runtime code holds only its name and these lists. A change to what a payment row holds is a new
 * migration that re-creates the procedure, the same change in ./sqlite-one-call.ts and ./general.ts,
 * and a line here: test/payments/one-call-parity.test.ts fails until all of them agree.
 */
export const PAY_PROCEDURE = 'gw_pay_accounts';

/** `payments` columns the one call gives a value (SQLite's insert and the procedure's, same order). */
export const ONE_CALL_PAYMENT_COLUMNS = [
  'source',
  'txn_id',
  'account',
  'amount',
  'txn_date_raw',
  'txn_date',
  'state',
  'result',
  'comment',
  'extra',
  'billing_ref',
  'attempts',
  'next_attempt_at',
  'received_at',
  'updated_at',
  'credited_at',
] as const;

/**
 * `payments` columns the one call leaves to their default, on purpose: the id (the key), what only
 * an order's pay has (order_number), what only the external billing and JetPay write, and what
 * only filing a refund writes (refund_version: 0 for a new payment).
 */
export const ONE_CALL_PAYMENT_UNSET = [
  'id',
  'order_number',
  'last_error',
  'entity_id',
  'announced_amount',
  'flag',
  'flagged_at',
  'refund_version',
] as const;

/** `account_ledger` columns of the credit's line, and the one left to its default. */
export const ONE_CALL_LEDGER_COLUMNS = [
  'payment_id',
  'kind',
  'ref',
  'account',
  'order_number',
  'amount',
  'created_at',
] as const;
export const ONE_CALL_LEDGER_UNSET = ['id'] as const;
