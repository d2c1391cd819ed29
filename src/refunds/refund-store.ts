import type { Knex } from 'knex';
import { withCommitRetry } from '../db/commit-retry.js';
import { dbTime, type Db } from '../db/db.js';
import { toTiyn, type Tiyn } from '../shared/money.js';

/**
 * Our refund statuses. `new`: stored, Kaspi's answer not known yet. The rest follow Kaspi's
 * statusCode: 0 accepted, 1 declined, 2 success, 3 failed, 4 in_progress, 5 fatal, 6 manual,
 * 7 in_progress_error.
 */
export type RefundStatus =
  | 'new'
  | 'accepted'
  | 'in_progress'
  | 'manual'
  | 'in_progress_error'
  | 'success'
  | 'declined'
  | 'failed'
  | 'fatal';

export const REFUND_STATUSES: readonly RefundStatus[] = [
  'new',
  'accepted',
  'in_progress',
  'manual',
  'in_progress_error',
  'success',
  'declined',
  'failed',
  'fatal',
];

/** Kaspi's statusCode → ours. */
export const KASPI_STATUS: Readonly<Record<number, RefundStatus>> = {
  0: 'accepted',
  1: 'declined',
  2: 'success',
  3: 'failed',
  4: 'in_progress',
  5: 'fatal',
  6: 'manual',
  7: 'in_progress_error',
};

/** Statuses the poller follows. `fatal` is not here: a person decides what it means. */
export const PENDING_STATUSES: readonly RefundStatus[] = [
  'new',
  'accepted',
  'in_progress',
  'manual',
  'in_progress_error',
];
/** Statuses an answer from Kaspi may move a refund out of. `fatal` too: a person may ask to look again. */
export const MOVABLE_STATUSES: readonly RefundStatus[] = [...PENDING_STATUSES, 'fatal'];
export const FINAL_STATUSES: readonly RefundStatus[] = ['success', 'declined', 'failed'];
/** Refunds that no longer hold any of the payment's amount. */
export const RELEASED_STATUSES: readonly RefundStatus[] = ['declined', 'failed'];

/** Which channel's payment a refund returns: `kaspi` through the Refund API, `kaspi_qr` by payment/return. */
export type RefundSource = 'kaspi' | 'kaspi_qr';
/** `api`: asked for by a person (API, CLI, console); `registry`: from a reconciliation item. */
export type RefundOrigin = 'api' | 'registry';

export interface Refund {
  id: string;
  source: RefundSource;
  origin: RefundOrigin;
  refundIdentificator: string;
  idempotencyKey: string | null;
  paymentId: string;
  txnId: string;
  account: string;
  amount: Tiyn;
  returnAmount: number;
  amountUnit: 'tenge' | 'tiyn';
  reason: string;
  status: RefundStatus;
  kaspiStatus: number | null;
  requestIdentificator: string | null;
  errorCode: number | null;
  errorMessage: string | null;
  polls: number;
  nextPollAt: string | null;
  lastPolledAt: string | null;
  lastProblem: string | null;
  flaggedAt: string | null;
  flagReason: string | null;
  billingNotifiedAt: string | null;
  billingRef: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface NewRefund {
  source?: RefundSource;
  refundIdentificator: string;
  idempotencyKey: string | null;
  paymentId: string;
  txnId: string;
  account: string;
  amount: Tiyn;
  returnAmount: number;
  amountUnit: 'tenge' | 'tiyn';
  reason: string;
  createdBy: string;
  nextPollAt: string | null;
  origin?: RefundOrigin;
  /**
   * The billing has nothing to hear of this refund: its payment was never credited (a refund of a
   * payment we refused that Kaspi counts as paid). Stored as told, so no debit and no notice.
   */
  billingNotNeeded?: boolean;
}

export interface RefundPatch {
  status?: RefundStatus;
  kaspiStatus?: number | null;
  requestIdentificator?: string | null;
  errorCode?: number | null;
  errorMessage?: string | null;
  nextPollAt?: string | null;
  polled?: boolean;
  lastProblem?: string | null;
  flagReason?: string;
  billingNotified?: boolean;
  billingRef?: string | null;
}

type Row = Record<string, unknown>;
const str = (v: unknown) => (v == null ? null : String(v));

function toRefund(r: Row): Refund {
  return {
    id: String(r.id),
    source: r.source === 'kaspi_qr' ? 'kaspi_qr' : 'kaspi',
    origin: r.origin === 'registry' ? 'registry' : 'api',
    refundIdentificator: String(r.refund_identificator),
    idempotencyKey: str(r.idempotency_key),
    paymentId: String(r.payment_id),
    txnId: String(r.txn_id),
    account: String(r.account),
    amount: toTiyn(r.amount),
    returnAmount: toTiyn(r.return_amount),
    amountUnit: r.amount_unit === 'tiyn' ? 'tiyn' : 'tenge',
    reason: String(r.reason),
    status: r.status as RefundStatus,
    kaspiStatus: r.kaspi_status == null ? null : Number(r.kaspi_status),
    requestIdentificator: str(r.request_identificator),
    errorCode: r.error_code == null ? null : Number(r.error_code),
    errorMessage: str(r.error_message),
    polls: Number(r.polls ?? 0),
    nextPollAt: str(r.next_poll_at),
    lastPolledAt: str(r.last_polled_at),
    lastProblem: str(r.last_problem),
    flaggedAt: str(r.flagged_at),
    flagReason: str(r.flag_reason),
    billingNotifiedAt: str(r.billing_notified_at),
    billingRef: str(r.billing_ref),
    createdBy: String(r.created_by ?? ''),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    finishedAt: str(r.finished_at),
  };
}

export interface RefundFilter {
  status?: RefundStatus;
  txnId?: string;
  flagged?: boolean;
  limit?: number;
  /** Keyset page: only ids below this one (the previous page's `nextBefore`). */
  before?: string;
  offset?: number;
}

export class RefundStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Knex.Transaction) {
    return trx ?? this.db.knex;
  }

  async insert(trx: Knex.Transaction, r: NewRefund): Promise<string> {
    const now = dbTime();
    const [id] = await trx('refunds').insert({
      source: r.source ?? 'kaspi',
      origin: r.origin ?? 'api',
      ...(r.billingNotNeeded ? { billing_notified_at: now, billing_ref: 'never-credited' } : {}),
      refund_identificator: r.refundIdentificator,
      idempotency_key: r.idempotencyKey,
      payment_id: r.paymentId,
      txn_id: r.txnId,
      account: r.account,
      amount: r.amount,
      return_amount: r.returnAmount,
      amount_unit: r.amountUnit,
      reason: r.reason,
      status: 'new',
      polls: 0,
      next_poll_at: r.nextPollAt,
      created_by: r.createdBy.slice(0, 64),
      created_at: now,
      updated_at: now,
    });
    return String(id);
  }

  async findById(id: string, trx?: Knex.Transaction): Promise<Refund | null> {
    if (!/^\d{1,20}$/.test(id)) return null;
    const r = await this.q(trx)('refunds').where({ id }).first();
    return r ? toRefund(r) : null;
  }

  async findByIdempotencyKey(key: string): Promise<Refund | null> {
    const r = await this.db.knex('refunds').where({ idempotency_key: key }).first();
    return r ? toRefund(r) : null;
  }

  async listForPayment(paymentId: string, trx?: Knex.Transaction): Promise<Refund[]> {
    const rows = await this.q(trx)('refunds').where({ payment_id: paymentId }).orderBy('id');
    return rows.map(toRefund);
  }

  /** The amount of a payment held by refunds that may still return money (all but declined/failed). */
  async heldAmount(trx: Knex.Transaction, paymentId: string): Promise<Tiyn> {
    const r = await trx('refunds')
      .where({ payment_id: paymentId })
      .whereNotIn('status', RELEASED_STATUSES)
      .sum({ total: 'amount' })
      .first();
    return r?.total == null
      ? 0
      : toTiyn(typeof r.total === 'number' ? r.total : String(r.total).replace(/\.0+$/, ''));
  }

  async list(f: RefundFilter = {}): Promise<Refund[]> {
    let q = this.db.knex('refunds').orderBy('id', 'desc');
    if (f.status) q = q.where('status', f.status);
    if (f.txnId) q = q.where('txn_id', f.txnId);
    if (f.flagged === true) q = q.whereNotNull('flagged_at');
    if (f.before) q = q.where('id', '<', f.before);
    const rows = await q.limit(Math.min(f.limit ?? 100, 1000)).offset(f.offset ?? 0);
    return rows.map(toRefund);
  }

  /** Refunds the poller should look at now, oldest appointment first. */
  async due(now: Date, limit: number): Promise<Refund[]> {
    const rows = await this.db
      .knex('refunds')
      .where((q) =>
        q
          // fatal only has an appointment once a person resumed it
          .whereIn('status', [...PENDING_STATUSES, 'fatal'])
          // SUCCESS not yet told to a billing that is told after commit (http).
          .orWhere((s) => s.where('status', 'success').whereNull('billing_notified_at')),
      )
      .whereNotNull('next_poll_at')
      .where('next_poll_at', '<=', dbTime(now))
      .orderBy('next_poll_at')
      .orderBy('id')
      .limit(limit);
    return rows.map(toRefund);
  }

  /**
   * Applies a change only if the refund is still in one of `from`: the row count says whether we
   * won. Two writers that saw the same state (the creating request and the poller) cannot both
   * move a refund to success, so billing is told once.
   */
  async transition(
    trx: Knex.Transaction | undefined,
    id: string,
    from: readonly RefundStatus[],
    patch: RefundPatch,
  ): Promise<boolean> {
    const now = dbTime();
    const q = this.q(trx);
    const u: Record<string, unknown> = { updated_at: now };
    if (patch.status !== undefined) {
      u.status = patch.status;
      if (FINAL_STATUSES.includes(patch.status) || patch.status === 'fatal') u.finished_at = now;
    }
    if (patch.kaspiStatus !== undefined) u.kaspi_status = patch.kaspiStatus;
    if (patch.requestIdentificator !== undefined) u.request_identificator = patch.requestIdentificator;
    if (patch.errorCode !== undefined) u.error_code = patch.errorCode;
    if (patch.errorMessage !== undefined) u.error_message = patch.errorMessage?.slice(0, 500) ?? null;
    if (patch.nextPollAt !== undefined) u.next_poll_at = patch.nextPollAt;
    if (patch.polled) {
      u.polls = q.raw('polls + 1');
      u.last_polled_at = now;
    }
    if (patch.lastProblem !== undefined) u.last_problem = patch.lastProblem?.slice(0, 500) ?? null;
    if (patch.flagReason !== undefined) {
      u.flagged_at = now;
      u.flag_reason = patch.flagReason.slice(0, 255);
    }
    if (patch.billingNotified) u.billing_notified_at = now;
    if (patch.billingRef !== undefined) u.billing_ref = patch.billingRef?.slice(0, 100) ?? null;
    const update = () => q('refunds').where({ id }).whereIn('status', from).update(u);
    // In the caller's transaction its own retry covers it; on its own it is retried here.
    const n = trx
      ? await update()
      : await withCommitRetry(this.db, 'refund update', update, { refundId: id });
    return n === 1;
  }

  /** A person's go-ahead: poll this refund again now, and flag it anew if it still goes wrong. */
  async resume(id: string, from: readonly RefundStatus[], trx?: Knex.Transaction): Promise<boolean> {
    const now = dbTime();
    const update = () =>
      (trx ?? this.db.knex)('refunds')
        .where({ id })
        .whereIn('status', from)
        .update({ next_poll_at: now, flagged_at: null, flag_reason: null, updated_at: now });
    const n = trx
      ? await update()
      : await withCommitRetry(this.db, 'refund resume', update, { refundId: id });
    return n === 1;
  }

  /** Flags a refund for a person once; false when it was flagged already. */
  async flag(id: string, reason: string): Promise<boolean> {
    const now = dbTime();
    const n = await withCommitRetry(
      this.db,
      'refund flag',
      () =>
        this.db
          .knex('refunds')
          .where({ id })
          .whereNull('flagged_at')
          .update({ flagged_at: now, flag_reason: reason.slice(0, 255), updated_at: now }),
      { refundId: id },
    );
    return n === 1;
  }
}
