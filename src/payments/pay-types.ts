import type { Field } from '../billing/billing.js';
import type { Tiyn } from '../shared/money.js';
import type { Payment, PaymentFields, PaymentState } from './payment-store.js';

/** The pay path's types; its public module is ./payment-service.ts. */

export type KaspiResult = 0 | 1 | 2 | 3 | 4 | 5;

export interface CheckOutcome {
  result: KaspiResult;
  comment: string;
  fields: Field[];
}

/** A payment to record and credit once: what every channel gives recordAndCredit(). */
export interface PayRequest extends PaymentFields {
  /** The same instant as txnDate with the payer's offset, for the billing contract. */
  txnDateIso: string | null;
  /** process.hrtime.bigint() when the request arrived: the deadline counts from there. */
  startedAt?: bigint;
}

export interface PayOutcome {
  /** Kaspi's result codes; other channels translate them at their edge. */
  result: KaspiResult;
  comment: string;
  /** null when nothing is known to be recorded (the database failed or stalled before the row was committed). */
  prvTxn: string | null;
  amount: Tiyn;
  /** true when this call recorded the payment; false for a replay of an earlier one. */
  created: boolean;
}

export interface PaymentServiceOptions {
  /** recordAndCredit() and creditStored() answer within this budget; what doesn't fit finishes in the background. */
  deadlineMs: number;
  /** First delay before a pending credit is retried; doubles per attempt, with jitter. */
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** Offset of Kaspi's txn_date, to send the billing the same txnDate on every retry. */
  txnDateOffset: string;
}

export const DEFAULT_PAYMENT_OPTIONS: PaymentServiceOptions = {
  deadlineMs: 10_000,
  retryBackoffMs: 10_000,
  retryBackoffMaxMs: 600_000,
  txnDateOffset: '+05:00',
};

export const COMMENT_OK = 'OK';
export const COMMENT_PROCESSING = 'Payment is being processed';
export const COMMENT_REUSED = 'txn_id already used with other parameters';

/**
 * The pay path, exactly once per (source, txn_id), whatever the channel. The only writer of
 * `payments` besides ./payment-store.ts and ./deposit-store.ts (docs/pay-flow.md).
 */
export interface PaymentService {
  /** How long a sender holds a claimed credit before others may take it (0 for the embedded billing). */
  readonly claimMs: number;
  /**
   * Asks the billing whether the account (or order) may be paid, within the deadline: a lookup
   * that doesn't fit throws UpstreamError (check is safe to fail).
   */
  check(account: string, startedAt?: bigint): Promise<CheckOutcome>;
  /**
   * THE entry point of every channel that brings a new payment (Kaspi pay, Kaspi QR, a
   * reconciliation `credit`): records (source, txnId, account, amount, ...) under its unique key
   * and credits it once. A repeat, however concurrent, gets the stored answer; the same key with
   * another account or amount gets 5 and nothing is stored. Never throws: every failure is an
   * answer (4 when in doubt, finished in the background or by the retry job).
   */
  recordAndCredit(req: PayRequest): Promise<PayOutcome>;
  /**
   * Credits a payment that is already stored (JetPay's deposit once its success callback comes),
   * moving it out of one of `from`: a concurrent or repeated call finds the state moved on and
   * gets the stored answer. Throws NotFoundError for an unknown payment.
   */
  creditStored(paymentId: string, from: readonly PaymentState[], amount?: Tiyn): Promise<PayOutcome>;
  /** One retry of a credit the retry job found due; null when someone else took it first. */
  retryCredit(due: { id: string; attempts: number }): Promise<PayOutcome | null>;
  /** The outcome a later request for this payment must get, from what is stored. */
  answerFor(p: Payment): PayOutcome;
  /** Waits (bounded) for work that went on after its answer: shutdown must not cut a payment. */
  drain(timeoutMs?: number): Promise<void>;
}
