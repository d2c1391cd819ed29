import type { Knex } from 'knex';
import { dbNow } from '../db/db-clock.js';
import { dbTime, type Db } from '../db/db.js';
import { rawWrite } from '../db/raw-sql.js';
import { toTiyn, type Tiyn } from '../shared/money.js';

/** Every channel a payment comes from: the one list the API, the console and the CLI offer and check. */
export const PAYMENT_SOURCES = ['kaspi', 'jetpay', 'kaspi_qr'] as const;
export type PaymentSource = (typeof PAYMENT_SOURCES)[number];

/**
 * received → crediting → credited | failed; pending = the credit's outcome is in doubt and the
 * retry job owns it. JetPay adds awaiting_callback (before) and declined (a final no); a Kaspi QR
 * purchase waits in awaiting_payment until Kaspi says Processed (then credited) or Error (declined).
 */
export const PAYMENT_STATES = [
  'received',
  'crediting',
  'pending',
  'credited',
  'failed',
  'awaiting_callback',
  'awaiting_payment',
  'declined',
] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];

export const FINAL_STATES: readonly PaymentState[] = ['credited', 'failed', 'declined'];

/**
 * States of a credit the retry job owns once `next_attempt_at` has passed: pending (in doubt),
 * crediting whose claim ran out (its process died or stalled), received (never sent).
 */
export const RETRYABLE_STATES: readonly PaymentState[] = ['pending', 'crediting', 'received'];

/** What every payment row holds from its channel: the pay request, the one call and the stored row share it. */
export interface PaymentFields {
  source: PaymentSource;
  /** The channel's own payment number: (source, txn_id) is the unique key that makes it once. */
  txnId: string;
  account: string;
  amount: Tiyn;
  /** Kaspi's txn_date as received (YYYYMMDDhhmmss), or null. */
  txnDateRaw: string | null;
  /** UTC instant, as stored. */
  txnDate: string | null;
  extra: Record<string, string> | null;
}

export interface Payment extends PaymentFields {
  id: string; // prv_txn
  state: PaymentState;
  result: number | null;
  comment: string | null;
  billingRef: string | null;
  orderNumber: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  receivedAt: string;
  updatedAt: string;
  creditedAt: string | null;
  /** Reasons a person must look at it (`PaymentFlags`), empty when none; when the first was set. */
  flags: string[];
  flaggedAt: string | null;
}

export interface NewPayment {
  source: PaymentSource;
  txnId: string;
  account: string;
  amount: Tiyn;
  txnDateRaw?: string | null;
  txnDate?: string | null;
  state: PaymentState;
  extra?: Record<string, string> | null;
  /** A credit claimed at insert (external billing): attempt 1, claim held until this time. */
  attempts?: number;
  nextAttemptAt?: string | Knex.Raw | null;
}

type Row = Record<string, unknown>;

function toPayment(r: Row): Payment {
  return {
    id: String(r.id),
    source: r.source as PaymentSource,
    txnId: String(r.txn_id),
    account: String(r.account),
    amount: toTiyn(r.amount),
    txnDateRaw: r.txn_date_raw == null ? null : String(r.txn_date_raw),
    txnDate: r.txn_date == null ? null : String(r.txn_date),
    state: r.state as PaymentState,
    result: r.result == null ? null : Number(r.result),
    comment: r.comment == null ? null : String(r.comment),
    extra: r.extra == null ? null : (JSON.parse(String(r.extra)) as Record<string, string>),
    billingRef: r.billing_ref == null ? null : String(r.billing_ref),
    orderNumber: r.order_number == null ? null : String(r.order_number),
    attempts: Number(r.attempts ?? 0),
    nextAttemptAt: r.next_attempt_at == null ? null : String(r.next_attempt_at),
    lastError: r.last_error == null ? null : String(r.last_error),
    receivedAt: String(r.received_at),
    updatedAt: String(r.updated_at),
    creditedAt: r.credited_at == null ? null : String(r.credited_at),
    flags: r.flag == null || r.flag === '' ? [] : String(r.flag).split(','),
    flaggedAt: r.flagged_at == null ? null : String(r.flagged_at),
  };
}

export interface UnfinishedCredits {
  count: number;
  oldestReceivedAt: string | null;
  stuckCount: number;
  /** The oldest stuck ones, up to the sample size. */
  stuck: Payment[];
}

export interface PaymentFilter {
  from?: string;
  to?: string;
  account?: string;
  state?: PaymentState;
  source?: PaymentSource;
  /** Amount range in tiyn, both ends included. */
  minAmount?: Tiyn;
  maxAmount?: Tiyn;
  /**
   * Only payments carrying a flag (`payments_flagged_idx`), the few a person must look at, newest
   * flag first; not paged by `before` (the order is not by id): the newest `limit` (≤ 1000).
   */
  flagged?: boolean;
  limit?: number;
  /** Keyset page: only ids below this one (the previous page's `nextBefore`), fast at any depth. */
  before?: string;
  /** Rows skipped: reads every skipped row, slow on deep pages; `before` is the way to page. */
  offset?: number;
}

/** Kaspi's data1..dataN as stored: JSON text, or null when there are none. */
export function extraJson(extra: Record<string, string> | null | undefined): string | null {
  return extra && Object.keys(extra).length > 0 ? JSON.stringify(extra) : null;
}

const INSERT_PAYMENT =
  'insert into `payments` (`source`, `txn_id`, `account`, `amount`, `txn_date_raw`, `txn_date`, `state`, ' +
  '`extra`, `attempts`, `next_attempt_at`, `received_at`, `updated_at`) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

export class PaymentStore {
  constructor(private readonly db: Db) {}

  private q(trx?: Knex.Transaction) {
    return trx ?? this.db.knex;
  }

  /** Inserts a payment; the unique key (source, txn_id) throws if it exists. Returns its id. */
  async insert(trx: Knex.Transaction | undefined, p: NewPayment): Promise<string> {
    const now = dbTime();
    // Every pay runs this: fixed SQL, no query builder (src/db/raw-sql.ts).
    const { insertId } = await rawWrite(this.db, this.q(trx), INSERT_PAYMENT, [
      p.source,
      p.txnId,
      p.account,
      p.amount,
      p.txnDateRaw ?? null,
      p.txnDate ?? null,
      p.state,
      extraJson(p.extra),
      p.attempts ?? 0,
      p.nextAttemptAt ?? null,
      now,
      now,
    ]);
    return insertId;
  }

  async findByTxn(source: PaymentSource, txnId: string, trx?: Knex.Transaction): Promise<Payment | null> {
    const r = await this.q(trx)('payments').where({ source, txn_id: txnId }).first();
    return r ? toPayment(r) : null;
  }

  /**
   * The payment a refund is asked for, read inside the refund's transaction and locked (MySQL) for
   * it, so two refunds asked at once cannot both fit in the same remainder. SQLite runs one writer
   * at a time anyway.
   */
  async findForRefund(trx: Knex.Transaction, source: PaymentSource, txnId: string): Promise<Payment | null> {
    let q = trx('payments').where({ source, txn_id: txnId });
    if (this.db.dialect === 'mysql') q = q.forUpdate();
    const r = await q.first();
    return r ? toPayment(r) : null;
  }

  /**
   * A refund of this payment is being filed: its row is written (refund_version + 1) in the
   * refund's transaction. Two refunds of one payment filed at once on two Galera nodes then
   * conflict at certification (the FOR UPDATE above is node-local), one runs again and sees the
   * other; on one server the row lock already orders them.
   */
  async markRefundFiled(trx: Knex.Transaction, id: string): Promise<void> {
    await rawWrite(
      this.db,
      trx,
      'update `payments` set `refund_version` = `refund_version` + 1 where `id` = ?',
      [id],
    );
  }

  async findById(id: string, trx?: Knex.Transaction): Promise<Payment | null> {
    if (!/^\d{1,20}$/.test(id)) return null;
    const r = await this.q(trx)('payments').where({ id }).first();
    return r ? toPayment(r) : null;
  }

  /** Kaspi's txn_id is what operators search by; JetPay's payment ids live in the same column. */
  async findByTxnAnySource(txnId: string): Promise<Payment[]> {
    const rows = await this.db.knex('payments').where({ txn_id: txnId }).orderBy('id');
    return rows.map(toPayment);
  }

  /**
   * Newest first, keyset pages by id. A time range without an account is read in received order
   * (`received_at DESC, id DESC`, the `payments_received_id_idx` walked backwards: one page, where
   * ordering the day by id alone meant reading all of it and sorting); the page after `before` then
   * starts below that payment's own (received_at, id), looked up by its key.
   */
  async list(f: PaymentFilter = {}): Promise<Payment[]> {
    const byTime = (f.from !== undefined || f.to !== undefined) && !f.account && !f.flagged;
    let q = this.db.knex('payments');
    // Flagged ones newest flag first, in the order of payments_flagged_idx, so the index serves the
    // order too: by id, a database would walk the primary key past millions of unflagged rows.
    if (f.flagged)
      q = q.whereNotNull('flagged_at').orderBy([
        { column: 'flagged_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ]);
    else
      q = byTime
        ? q.orderBy([
            { column: 'received_at', order: 'desc' },
            { column: 'id', order: 'desc' },
          ])
        : q.orderBy('id', 'desc');
    if (f.from) q = q.where('received_at', '>=', f.from);
    if (f.to) q = q.where('received_at', '<', f.to);
    if (f.account) q = q.where('account', f.account);
    if (f.state) q = q.where('state', f.state);
    if (f.source) q = q.where('source', f.source);
    if (f.minAmount !== undefined) q = q.where('amount', '>=', f.minAmount);
    if (f.maxAmount !== undefined) q = q.where('amount', '<=', f.maxAmount);
    const cursor =
      byTime && f.before
        ? ((await this.db.knex('payments').where({ id: f.before }).first('received_at')) as
            { received_at: string | Date } | undefined)
        : undefined;
    if (cursor) {
      const at = cursor.received_at;
      // received_at <= at bounds the index range; the rows of that same instant go on by id.
      q = q
        .where('received_at', '<=', at)
        .where((w) => w.where('received_at', '<', at).orWhere('id', '<', f.before as string));
    } else if (f.before) q = q.where('id', '<', f.before);
    const rows = await q.limit(Math.min(f.limit ?? 100, 1000)).offset(f.offset ?? 0);
    return rows.map(toPayment);
  }

  /**
   * Moves a payment to a new state only from one of the states named: the row count says whether
   * we won. This is how concurrent workers agree on who finishes a payment.
   */
  async transition(
    trx: Knex.Transaction | undefined,
    id: string,
    from: readonly PaymentState[],
    patch: {
      state: PaymentState;
      result?: number | null;
      comment?: string | null;
      billingRef?: string | null;
      orderNumber?: string | null;
      lastError?: string | null;
      nextAttemptAt?: string | Knex.Raw | null;
      incrementAttempts?: boolean;
    },
    /** Only when the row is still at this attempt: a sender whose claim was taken over changes nothing. */
    guard: { attempts?: number } = {},
  ): Promise<boolean> {
    if (from.length === 0) return false;
    const now = dbTime();
    // Every pay runs this too: the SQL text is put together here, without the query builder.
    const sets: string[] = ['`state` = ?', '`updated_at` = ?'];
    const values: Knex.Value[] = [patch.state, now];
    const set = (column: string, value: Knex.Value | Knex.Raw) => {
      sets.push(`\`${column}\` = ?`);
      values.push(value as Knex.Value);
    };
    if (patch.result !== undefined) set('result', patch.result);
    if (patch.comment !== undefined) set('comment', patch.comment?.slice(0, 255) ?? null);
    if (patch.billingRef !== undefined) set('billing_ref', patch.billingRef);
    if (patch.orderNumber !== undefined) set('order_number', patch.orderNumber);
    if (patch.lastError !== undefined) set('last_error', patch.lastError?.slice(0, 500) ?? null);
    if (patch.nextAttemptAt !== undefined) set('next_attempt_at', patch.nextAttemptAt);
    if (patch.incrementAttempts) sets.push('`attempts` = `attempts` + 1');
    if (patch.state === 'credited') set('credited_at', now);
    let where = `\`id\` = ? and \`state\` in (${from.map(() => '?').join(', ')})`;
    values.push(id, ...from);
    if (guard.attempts !== undefined) {
      where += ' and `attempts` = ?';
      values.push(guard.attempts);
    }
    const { affected: n } = await rawWrite(
      this.db,
      this.q(trx),
      `update \`payments\` set ${sets.join(', ')} where ${where}`,
      values,
    );
    return n === 1;
  }

  /**
   * Takes a credit for sending: state crediting, one more attempt, and a claim until `claimMs`
   * from now by the database's clock. The row count decides between concurrent claimers; a claim
   * that runs out (its sender died) makes the row due for the retry job again.
   * `due`: only when next_attempt_at has passed; `attempts`: only when nobody claimed it since it was read;
   * `amount`: what is to be credited, when it is only known now (a JetPay callback's paid sum).
   */
  async claim(
    id: string,
    from: readonly PaymentState[],
    claimMs: number,
    opts: { due?: boolean; attempts?: number; amount?: Tiyn } = {},
  ): Promise<boolean> {
    const k = this.db.knex;
    let w = k('payments').where({ id }).whereIn('state', from);
    if (opts.due) w = w.where('next_attempt_at', '<=', dbNow(this.db));
    if (opts.attempts !== undefined) w = w.where('attempts', opts.attempts);
    const n = await w.update({
      state: 'crediting',
      attempts: k.raw('attempts + 1'),
      next_attempt_at: dbNow(this.db, claimMs),
      updated_at: dbTime(),
      ...(opts.amount !== undefined ? { amount: opts.amount } : {}),
    });
    return n === 1;
  }

  /** Credits the retry job may take now, oldest due first. */
  async findDue(limit: number): Promise<{ id: string; attempts: number }[]> {
    const rows = (await this.db
      .knex('payments')
      .whereIn('state', RETRYABLE_STATES)
      .where('next_attempt_at', '<=', dbNow(this.db))
      .orderBy('next_attempt_at')
      .limit(limit)
      .select('id', 'attempts')) as Row[];
    return rows.map((r) => ({ id: String(r.id), attempts: Number(r.attempts) }));
  }

  /**
   * Credits not final yet (pending, or claimed and in flight): how many, the oldest, and how many
   * were received more than `stuckAfterMs` ago, with the oldest of those as a sample.
   */
  async unfinishedCredits(stuckAfterMs: number, sample = 20): Promise<UnfinishedCredits> {
    const k = this.db.knex;
    const unfinished = () => k('payments').whereIn('state', RETRYABLE_STATES);
    const stuckSince = dbNow(this.db, -stuckAfterMs);
    const all = (await unfinished().count({ n: '*' }).min({ oldest: 'received_at' }).first()) as
      Row | undefined;
    const stuck = (await unfinished().where('received_at', '<', stuckSince).count({ n: '*' }).first()) as
      Row | undefined;
    const rows =
      Number(stuck?.n ?? 0) === 0
        ? []
        : ((await unfinished()
            .where('received_at', '<', stuckSince)
            .orderBy('received_at')
            .limit(sample)) as Row[]);
    return {
      count: Number(all?.n ?? 0),
      oldestReceivedAt: all?.oldest == null ? null : String(all.oldest),
      stuckCount: Number(stuck?.n ?? 0),
      stuck: rows.map(toPayment),
    };
  }
}
