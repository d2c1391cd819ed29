import type { Knex } from 'knex';
import { transactionWithRetry } from '../db/commit-retry.js';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import {
  COLUMN,
  d,
  QR_STATES,
  OPEN_STATES,
  s,
  toPurchase,
  type NewPurchase,
  type Purchase,
  type PurchaseFilter,
  type PurchasePatch,
  type PurchaseWithPayment,
  type QrState,
  type Row,
} from './kaspi-qr-purchase-row.js';

// The row's types are imported from here by the engine, the console and the tests.
export {
  OPEN_STATES,
  QR_STATES,
  type NewPurchase,
  type Purchase,
  type PurchaseFilter,
  type PurchasePatch,
  type PurchaseWithPayment,
  type QrState,
};

/**
 * Kaspi QR's own tables (db/migrations/20261201130000_kaspi_qr.ts): the details beside each
 * purchase's payment row (kaspi-qr-purchase-row.ts), devices, create idempotency keys and the
 * engine's pause. The payment row itself is written by src/payments (AwaitingPayments), inside the
 * transaction given here.
 */
export class KaspiQrStore {
  constructor(private readonly db: Db) {}

  async insert(trx: Knex.Transaction, p: NewPurchase): Promise<void> {
    await trx('kaspi_qr_purchases').insert({
      payment_id: p.paymentId,
      kind: p.kind,
      qr_payment_id: p.qrPaymentId,
      pay_token: p.payToken,
      qr_token: p.qrToken,
      payment_link: p.paymentLink,
      expire_date_raw: p.expireDateRaw,
      expire_at: p.expireAt ? dbTime(p.expireAt) : null,
      payment_methods: JSON.stringify(p.paymentMethods).slice(0, 255),
      poll_interval_s: p.pollIntervalS,
      scan_timeout_s: p.scanTimeoutS,
      confirm_timeout_s: p.confirmTimeoutS,
      created_at: dbTime(p.createdAt),
      scan_deadline: dbTime(p.scanDeadline),
      state: 'pending',
      kaspi_status: 'QrTokenCreated',
      next_poll_at: p.nextPollAt ? dbTime(p.nextPollAt) : null,
      phone_masked: p.phoneMasked,
      comment: p.comment,
      updated_at: dbTime(),
    });
  }

  private joined() {
    return this.db
      .knex('kaspi_qr_purchases as q')
      .join('payments as p', 'p.id', 'q.payment_id')
      .select('q.*', 'p.account as account', 'p.amount as amount', 'p.state as payment_state');
  }

  private withPayment(r: Row): PurchaseWithPayment {
    return {
      ...toPurchase(r),
      account: String(r.account),
      amount: Number(r.amount),
      paymentState: String(r.payment_state),
    };
  }

  async byPaymentId(id: string): Promise<PurchaseWithPayment | null> {
    if (!/^\d{1,20}$/.test(id)) return null;
    const r = (await this.joined().where('q.payment_id', id).first()) as Row | undefined;
    return r ? this.withPayment(r) : null;
  }

  async byPayToken(token: string): Promise<PurchaseWithPayment | null> {
    if (!/^[0-9a-f]{32}$/.test(token)) return null;
    const r = (await this.joined().where('q.pay_token', token).first()) as Row | undefined;
    return r ? this.withPayment(r) : null;
  }

  async list(f: PurchaseFilter): Promise<PurchaseWithPayment[]> {
    let q = this.joined().orderBy('q.payment_id', 'desc');
    if (f.state) q = q.where('q.state', f.state);
    if (f.account) q = q.where('p.account', f.account);
    if (f.from) q = q.where('q.created_at', '>=', f.from);
    if (f.to) q = q.where('q.created_at', '<', f.to);
    const rows = (await q.limit(Math.min(f.limit ?? 100, 1000))) as Row[];
    return rows.map((r) => this.withPayment(r));
  }

  /** Purchases whose next poll is due by `now`, most overdue first. */
  async due(now: Date, limit: number): Promise<Purchase[]> {
    const rows = (await this.db
      .knex('kaspi_qr_purchases')
      .where('next_poll_at', '<=', dbTime(now))
      .orderBy('next_poll_at')
      .limit(limit)) as Row[];
    return rows.map(toPurchase);
  }

  /**
   * Takes a due purchase for one poll: its next poll moves to `holdUntil` and the claim is ours.
   * One conditional UPDATE, so of two runners (a stale one and the lease holder) only one polls.
   */
  async claim(paymentId: string, now: Date, holdUntil: Date, claim: string): Promise<boolean> {
    const n = await this.db
      .knex('kaspi_qr_purchases')
      .where({ payment_id: paymentId })
      .where('next_poll_at', '<=', dbTime(now))
      .update({ next_poll_at: dbTime(holdUntil), poll_claim: claim, polls: this.db.knex.raw('polls + 1') });
    return n === 1;
  }

  /** Writes a poll's outcome, only while the claim is still ours. */
  async save(paymentId: string, claim: string | null, patch: PurchasePatch): Promise<boolean> {
    const row: Record<string, unknown> = { updated_at: dbTime() };
    for (const [k, v] of Object.entries(patch)) {
      const col = COLUMN[k as keyof PurchasePatch];
      row[col] =
        v instanceof Date
          ? dbTime(v)
          : typeof v === 'string'
            ? v.slice(0, col === 'last_error' ? 255 : 100)
            : v;
    }
    let q = this.db.knex('kaspi_qr_purchases').where({ payment_id: paymentId });
    if (claim !== null) q = q.where({ poll_claim: claim });
    return (await q.update(row)) === 1;
  }

  async countByState(): Promise<Map<QrState, number>> {
    const rows = (await this.db
      .knex('kaspi_qr_purchases')
      .select('state')
      .count({ n: '*' })
      .groupBy('state')) as Row[];
    const m = new Map<QrState, number>(QR_STATES.map((st) => [st, 0]));
    for (const r of rows) m.set(r.state as QrState, Number(r.n));
    return m;
  }

  async oldestOpen(): Promise<Date | null> {
    const r = (await this.db
      .knex('kaspi_qr_purchases')
      .whereIn('state', OPEN_STATES)
      .min({ oldest: 'created_at' })
      .first()) as Row | undefined;
    return d(r?.oldest ?? null);
  }

  // ---- create idempotency ----

  /** Takes the key for a create; when it exists, what it holds (same hash + payment = a replay). */
  async takeKey(
    key: string,
    hash: string,
  ): Promise<{ taken: true } | { taken: false; hash: string; paymentId: string | null }> {
    try {
      await this.db
        .knex('kaspi_qr_idempotency')
        .insert({ idem_key: key, request_hash: hash, created_at: dbTime() });
      return { taken: true };
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const r = (await this.db.knex('kaspi_qr_idempotency').where({ idem_key: key }).first()) as
        Row | undefined;
      if (!r) return this.takeKey(key, hash);
      return { taken: false, hash: String(r.request_hash), paymentId: s(r.payment_id) };
    }
  }

  async bindKey(trx: Knex.Transaction, key: string, paymentId: string): Promise<void> {
    await trx('kaspi_qr_idempotency').where({ idem_key: key }).update({ payment_id: paymentId });
  }

  /** A create that left nothing: the key is free for another try. */
  async releaseKey(key: string): Promise<void> {
    await this.db.knex('kaspi_qr_idempotency').where({ idem_key: key }).whereNull('payment_id').delete();
  }

  // ---- devices ----

  async activeDevice(
    baseUrl: string,
  ): Promise<{ deviceId: string; tradePointId: string; deviceToken: string } | null> {
    const r = (await this.db
      .knex('kaspi_qr_devices')
      .where({ base_url: baseUrl, active: true })
      .orderBy('id', 'desc')
      .first()) as Row | undefined;
    return r
      ? {
          deviceId: String(r.device_id),
          tradePointId: String(r.trade_point_id),
          deviceToken: String(r.device_token),
        }
      : null;
  }

  /**
   * Stores a registered device as the active one (register is idempotent at Kaspi: same token again
   * is one row). Under the COMMIT retry as every write path: a deadlock or a Galera certification
   * failure runs the whole transaction again, and the run again finds the token stored or not.
   */
  async saveDevice(
    baseUrl: string,
    deviceId: string,
    tradePointId: string,
    deviceToken: string,
  ): Promise<void> {
    await transactionWithRetry(this.db, 'kaspi qr device', async (trx) => {
      const same = (await trx('kaspi_qr_devices')
        .where({ base_url: baseUrl, active: true, device_token: deviceToken })
        .first()) as Row | undefined;
      if (same) return;
      await trx('kaspi_qr_devices')
        .where({ base_url: baseUrl, active: true })
        .update({ active: false, deleted_at: dbTime() });
      await trx('kaspi_qr_devices').insert({
        base_url: baseUrl,
        device_id: deviceId,
        trade_point_id: tradePointId,
        device_token: deviceToken,
        active: true,
        created_at: dbTime(),
      });
    });
  }

  async deactivateDevices(baseUrl: string): Promise<void> {
    await this.db
      .knex('kaspi_qr_devices')
      .where({ base_url: baseUrl, active: true })
      .update({ active: false, deleted_at: dbTime() });
  }

  // ---- engine state shared by every process ----

  async getState(name: string): Promise<string | null> {
    const r = (await this.db.knex('kaspi_qr_state').where({ name }).first()) as Row | undefined;
    return s(r?.value);
  }

  async setState(name: string, value: string | null): Promise<void> {
    await this.db
      .knex('kaspi_qr_state')
      .insert({ name, value, updated_at: dbTime() })
      .onConflict('name')
      .merge();
  }
}
