import type { Knex } from 'knex';
import type { Tiyn } from '../shared/money.js';

/** A line shown to the payer on check (`<fields>` in Kaspi's answer). */
export interface Field {
  name: string;
  value: string;
}

export type OrderStatus = 'open' | 'paid' | 'cancelled';

/**
 * Something a JetPay customer pays into (a contract, a loan). A billing that has none leaves
 * `entities` out and the account itself is the one entity. Amounts in tiyn.
 */
export interface BillingEntity {
  id: string;
  number: string;
  payment?: Tiyn;
  minPayment?: Tiyn;
  info?: Record<string, string | number>;
}

export type Lookup =
  | {
      kind: 'account';
      account: string;
      name: string;
      balance: Tiyn | null;
      fields: Field[];
      entities?: BillingEntity[];
    }
  | { kind: 'order'; number: string; account: string | null; due: Tiyn; status: OrderStatus; fields: Field[] }
  | { kind: 'not_found' };

export interface CreditRequest {
  paymentId: string; // our prv_txn / JetPay payment_id
  source: 'kaspi' | 'jetpay' | 'kaspi_qr';
  txnId: string;
  account: string;
  amount: Tiyn;
  txnDate: string | null; // ISO instant with offset, as the billing contract wants
}

/** What the billing side said about a credit. A refusal is definitive: the payment fails. */
export type CreditOutcome =
  | { ok: true; billingRef: string; orderNumber?: string }
  | { ok: false; result: 1 | 2 | 3 | 5; comment: string };

/**
 * The billing side. Two kinds, chosen by BILLING_ADAPTER:
 * - `sql`: the gateway's own tables; the credit runs inside the payment's transaction, so the
 *   payment and its credit commit together or not at all.
 * - `http`: an external system; the credit is a call after the payment row is committed, made
 *   idempotent by its key, and retried while its outcome is in doubt.
 */
export interface EmbeddedBilling {
  readonly kind: 'sql';
  lookup(account: string): Promise<Lookup>;
  creditInTransaction(trx: Knex.Transaction, req: CreditRequest): Promise<CreditOutcome>;
}

export interface RemoteBilling {
  readonly kind: 'http';
  /** The longest one credit() can take, retries included: a claim on a payment must outlast it. */
  readonly maxCallMs: number;
  lookup(account: string): Promise<Lookup>;
  /** Throws UpstreamError with transient=true when the outcome is unknown. */
  credit(req: CreditRequest): Promise<CreditOutcome>;
}

export type Billing = EmbeddedBilling | RemoteBilling;

/** "Ivan Petrov" -> "I*** P.": enough for the payer to recognise, too little to harvest. */
export function maskName(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '';
  const [first, ...rest] = parts as [string, ...string[]];
  const initial = (s: string) => Array.from(s)[0] ?? '';
  return [`${initial(first)}***`, ...rest.map((p) => `${initial(p)}.`)].join(' ');
}
