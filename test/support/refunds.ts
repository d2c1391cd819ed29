import type { Gateway } from '../../src/wiring/wiring.js';
import type { DbKind, TestDatabase } from './databases.js';
import type { FakeRefundApi } from './fake-refund-api.js';
import { startTestGateway, type ConfigOverrides, type TestGateway } from './gateway.js';
import { newTxnId, pay } from './kaspi.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';
export const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };

/** A gateway whose Refund API is the fake. */
export function startRefundGateway(
  kind: DbKind,
  fake: FakeRefundApi,
  config: ConfigOverrides = {},
  database?: TestDatabase,
): Promise<TestGateway> {
  return startTestGateway(
    kind,
    {
      REFUND_API_URL: fake.url,
      REFUND_API_LOGIN: fake.login,
      REFUND_API_PASSWORD: fake.password,
      // Generous: the machine running the suite is shared; the timeout itself is tested with its own client.
      REFUND_API_TIMEOUT_MS: 10000,
      ...config,
    },
    {},
    database,
  );
}

let accountSeq = 0;

/** A Kaspi payment credited through the protocol, on an account of its own. */
export async function creditedPayment(
  t: TestGateway,
  sum = '500.00',
): Promise<{ txnId: string; account: string }> {
  accountSeq += 1;
  const account = `R${process.pid}${accountSeq}${Math.floor(Math.random() * 1e6)}`;
  await t.gateway.stores.accounts.addAccount({ account, name: 'Refund Payer', balance: 0 });
  const txnId = newTxnId();
  const res = await pay(t.api(), txnId, account, sum);
  if (res.xml.result !== '0') throw new Error(`pay failed: ${res.text}`);
  return { txnId, account };
}

/** Time passes: every refund with an appointment is due now. */
export async function makeDue(g: Gateway): Promise<void> {
  await g.db.knex('refunds').whereNotNull('next_poll_at').update({ next_poll_at: '2000-01-01 00:00:00.000' });
}

export async function refundRows(g: Gateway, txnId: string): Promise<Record<string, unknown>[]> {
  return g.db.knex('refunds').where({ txn_id: txnId }).orderBy('id');
}

export async function refundLedger(g: Gateway, refundId: string): Promise<Record<string, unknown>[]> {
  return g.db.knex('account_ledger').where({ kind: 'refund', ref: refundId });
}

export async function refundApiLog(g: Gateway): Promise<Record<string, unknown>[]> {
  await g.stores.requestLog.flush();
  return g.db.knex('request_log').where({ channel: 'refund_api' }).orderBy('id');
}

/** Every number anywhere in a JSON value is an integer: amounts are never floats. */
export function noFloats(v: unknown, path = '$'): string[] {
  if (typeof v === 'number') return Number.isInteger(v) ? [] : [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => noFloats(x, `${path}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => noFloats(x, `${path}.${k}`));
  return [];
}
