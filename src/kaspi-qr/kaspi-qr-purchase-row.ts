import { fromDbTime } from '../db/db.js';

/**
 * A Kaspi QR purchase as kaspi_qr_purchases holds it (beside its payment row), its states, what a
 * poll may change and how a row is read. The store (kaspi-qr-store.ts) reads and writes it.
 */

export type QrState = 'pending' | 'scanned' | 'paid' | 'failed' | 'expired' | 'cancelled' | 'unknown';
export const QR_STATES: readonly QrState[] = [
  'pending',
  'scanned',
  'paid',
  'failed',
  'expired',
  'cancelled',
  'unknown',
];
export const OPEN_STATES: readonly QrState[] = ['pending', 'scanned'];

export interface Purchase {
  paymentId: string;
  kind: 'qr' | 'link' | 'remote';
  qrPaymentId: string;
  payToken: string;
  qrToken: string | null;
  paymentLink: string | null;
  expireDateRaw: string | null;
  expireAt: Date | null;
  paymentMethods: string[];
  pollIntervalS: number;
  scanTimeoutS: number;
  confirmTimeoutS: number;
  createdAt: Date;
  scanDeadline: Date;
  firstWaitAt: Date | null;
  confirmDeadline: Date | null;
  expiredAt: Date | null;
  state: QrState;
  kaspiStatus: string | null;
  unknownStatusLogged: boolean;
  nextPollAt: Date | null;
  backoffMs: number;
  lateChecksDone: number;
  polls: number;
  phoneMasked: string | null;
  comment: string | null;
  lastError: string | null;
  flag: string | null;
  /** Paid on r2/r3: the post-payment check (payment/details once) is due at this time; null when done or not needed. */
  detailsDueAt: Date | null;
  /** What payment/details said of the paid purchase (tiyn), once read. */
  kaspiTotalAmount: number | null;
  updatedAt: Date;
}

/** What the engine may change after a poll. */
export type PurchasePatch = Partial<
  Pick<
    Purchase,
    | 'state'
    | 'kaspiStatus'
    | 'unknownStatusLogged'
    | 'nextPollAt'
    | 'backoffMs'
    | 'lateChecksDone'
    | 'firstWaitAt'
    | 'confirmDeadline'
    | 'expiredAt'
    | 'lastError'
    | 'flag'
    | 'detailsDueAt'
  >
>;

export const COLUMN: Record<keyof PurchasePatch, string> = {
  state: 'state',
  kaspiStatus: 'kaspi_status',
  unknownStatusLogged: 'unknown_status_logged',
  nextPollAt: 'next_poll_at',
  backoffMs: 'backoff_ms',
  lateChecksDone: 'late_checks_done',
  firstWaitAt: 'first_wait_at',
  confirmDeadline: 'confirm_deadline',
  expiredAt: 'expired_at',
  lastError: 'last_error',
  flag: 'flag',
  detailsDueAt: 'details_due_at',
};

export type Row = Record<string, unknown>;
export const s = (v: unknown) => (v == null ? null : String(v));
export const d = (v: unknown) => fromDbTime(v as string | null);

export function toPurchase(r: Row): Purchase {
  return {
    paymentId: String(r.payment_id),
    kind: r.kind as Purchase['kind'],
    qrPaymentId: String(r.qr_payment_id),
    payToken: String(r.pay_token),
    qrToken: s(r.qr_token),
    paymentLink: s(r.payment_link),
    expireDateRaw: s(r.expire_date_raw),
    expireAt: d(r.expire_at),
    paymentMethods: r.payment_methods ? (JSON.parse(String(r.payment_methods)) as string[]) : [],
    pollIntervalS: Number(r.poll_interval_s),
    scanTimeoutS: Number(r.scan_timeout_s),
    confirmTimeoutS: Number(r.confirm_timeout_s),
    createdAt: d(r.created_at) as Date,
    scanDeadline: d(r.scan_deadline) as Date,
    firstWaitAt: d(r.first_wait_at),
    confirmDeadline: d(r.confirm_deadline),
    expiredAt: d(r.expired_at),
    state: r.state as QrState,
    kaspiStatus: s(r.kaspi_status),
    unknownStatusLogged: Boolean(Number(r.unknown_status_logged)),
    nextPollAt: d(r.next_poll_at),
    backoffMs: Number(r.backoff_ms),
    lateChecksDone: Number(r.late_checks_done),
    polls: Number(r.polls),
    phoneMasked: s(r.phone_masked),
    comment: s(r.comment),
    lastError: s(r.last_error),
    flag: s(r.flag),
    detailsDueAt: d(r.details_due_at),
    kaspiTotalAmount: r.kaspi_total_amount == null ? null : Number(r.kaspi_total_amount),
    updatedAt: d(r.updated_at) as Date,
  };
}

export type NewPurchase = Omit<
  Purchase,
  | 'state'
  | 'kaspiStatus'
  | 'unknownStatusLogged'
  | 'firstWaitAt'
  | 'confirmDeadline'
  | 'expiredAt'
  | 'backoffMs'
  | 'lateChecksDone'
  | 'polls'
  | 'lastError'
  | 'flag'
  | 'detailsDueAt'
  | 'kaspiTotalAmount'
  | 'updatedAt'
>;

export interface PurchaseFilter {
  state?: QrState;
  account?: string;
  from?: string;
  to?: string;
  limit?: number;
}

/** A purchase and the payment row beside it (account, amount, credit state). */
export interface PurchaseWithPayment extends Purchase {
  account: string;
  amount: number;
  paymentState: string;
}
