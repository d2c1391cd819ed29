import type { Knex } from 'knex';
import { dbTime, fromDbTime, isUniqueViolation, type Db } from '../db/db.js';

/**
 * Remote invoices' own rows (db/migrations/20261202120100_kaspi_qr_remote.ts): one per remote/create
 * asked, written before the call leaves; and the per-minute call counters shared by every process.
 */

export type InvoiceState = 'sending' | 'created' | 'unknown' | 'refused' | 'not_sent';

export interface RemoteInvoice {
  id: string;
  idemKey: string;
  requestHash: string;
  state: InvoiceState;
  account: string;
  amount: number;
  phoneMasked: string;
  comment: string | null;
  qrPaymentId: string | null;
  paymentId: string | null;
  lastError: string | null;
  createdAt: Date;
  lastRefreshAt: Date | null;
  expiryCheckAt: Date | null;
  expiryDone: boolean;
}

type Row = Record<string, unknown>;
const s = (v: unknown) => (v == null ? null : String(v));

function toInvoice(r: Row): RemoteInvoice {
  return {
    id: String(r.id),
    idemKey: String(r.idem_key),
    requestHash: String(r.request_hash),
    state: r.state as InvoiceState,
    account: String(r.account),
    amount: Number(r.amount),
    phoneMasked: String(r.phone_masked),
    comment: s(r.comment),
    qrPaymentId: s(r.qr_payment_id),
    paymentId: s(r.payment_id),
    lastError: s(r.last_error),
    createdAt: fromDbTime(r.created_at as string) as Date,
    lastRefreshAt: fromDbTime(r.last_refresh_at as string | null),
    expiryCheckAt: fromDbTime(r.expiry_check_at as string | null),
    expiryDone: Boolean(Number(r.expiry_done)),
  };
}

export class RemoteInvoiceStore {
  constructor(private readonly db: Db) {}

  /** The invoice for a key, written now in `sending`; or the one that holds the key already. */
  async start(i: {
    idemKey: string;
    requestHash: string;
    account: string;
    amount: number;
    phoneMasked: string;
    comment: string | null;
  }): Promise<{ taken: true; id: string } | { taken: false; invoice: RemoteInvoice }> {
    const now = dbTime();
    try {
      const [id] = await this.db.knex('kaspi_qr_remote_invoices').insert({
        idem_key: i.idemKey,
        request_hash: i.requestHash,
        state: 'sending',
        account: i.account,
        amount: i.amount,
        phone_masked: i.phoneMasked,
        comment: i.comment,
        created_at: now,
        updated_at: now,
      });
      return { taken: true, id: String(id) };
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const earlier = await this.byKey(i.idemKey);
      if (!earlier) throw e;
      return { taken: false, invoice: earlier };
    }
  }

  async byKey(key: string): Promise<RemoteInvoice | null> {
    const r = (await this.db.knex('kaspi_qr_remote_invoices').where({ idem_key: key }).first()) as
      Row | undefined;
    return r ? toInvoice(r) : null;
  }

  async listUnknown(): Promise<RemoteInvoice[]> {
    const rows = (await this.db
      .knex('kaspi_qr_remote_invoices')
      .where({ state: 'unknown' })
      .orderBy('id', 'desc')
      .limit(100)) as Row[];
    return rows.map(toInvoice);
  }

  async byPaymentId(paymentId: string): Promise<RemoteInvoice | null> {
    const r = (await this.db.knex('kaspi_qr_remote_invoices').where({ payment_id: paymentId }).first()) as
      Row | undefined;
    return r ? toInvoice(r) : null;
  }

  async finish(
    id: string,
    state: InvoiceState,
    patch: { qrPaymentId?: string; paymentId?: string; lastError?: string | null; expiryCheckAt?: Date },
    trx?: Knex.Transaction,
  ): Promise<void> {
    const u: Record<string, unknown> = { state, updated_at: dbTime() };
    if (patch.qrPaymentId !== undefined) u.qr_payment_id = patch.qrPaymentId;
    if (patch.paymentId !== undefined) u.payment_id = patch.paymentId;
    if (patch.lastError !== undefined) u.last_error = patch.lastError?.slice(0, 255) ?? null;
    if (patch.expiryCheckAt !== undefined) u.expiry_check_at = dbTime(patch.expiryCheckAt);
    await (trx ?? this.db.knex)('kaspi_qr_remote_invoices').where({ id }).update(u);
  }

  /**
   * At most one Kaspi status call per invoice per `windowMs`, across processes: one conditional
   * UPDATE decides whether this caller may ask now.
   */
  async takeRefresh(paymentId: string, now: Date, windowMs: number): Promise<boolean> {
    const n = await this.db
      .knex('kaspi_qr_remote_invoices')
      .where({ payment_id: paymentId })
      .where((q) =>
        q
          .whereNull('last_refresh_at')
          .orWhere('last_refresh_at', '<=', dbTime(new Date(now.getTime() - windowMs))),
      )
      .update({ last_refresh_at: dbTime(now), updated_at: dbTime() });
    return n === 1;
  }

  /** Invoices whose 24 h + 5 min check is due. */
  async dueForExpiry(now: Date, limit: number): Promise<RemoteInvoice[]> {
    const rows = (await this.db
      .knex('kaspi_qr_remote_invoices')
      .where({ state: 'created', expiry_done: false })
      .where('expiry_check_at', '<=', dbTime(now))
      .where((q) => q.whereNull('expiry_claimed_until').orWhere('expiry_claimed_until', '<', dbTime(now)))
      .orderBy('expiry_check_at')
      .limit(limit)) as Row[];
    return rows.map(toInvoice);
  }

  async claimExpiry(id: string, now: Date, until: Date, claim: string): Promise<boolean> {
    const n = await this.db
      .knex('kaspi_qr_remote_invoices')
      .where({ id, expiry_done: false })
      .where((q) => q.whereNull('expiry_claimed_until').orWhere('expiry_claimed_until', '<', dbTime(now)))
      .update({ expiry_claim: claim, expiry_claimed_until: dbTime(until) });
    return n === 1;
  }

  async expiryDone(id: string, claim: string): Promise<void> {
    await this.db
      .knex('kaspi_qr_remote_invoices')
      .where({ id, expiry_claim: claim })
      .update({ expiry_done: true, updated_at: dbTime() });
  }

  /** One more call under `limit` in this minute for `name`, across processes; false when the minute is full. */
  async takeCall(name: string, now: Date, limit: number): Promise<boolean> {
    const window = Math.floor(now.getTime() / 60_000);
    const k = this.db.knex;
    const n = await k('kaspi_qr_rate_limits')
      .where({ name, window_start: window })
      .where('calls', '<', limit)
      .update({ calls: k.raw('calls + 1') });
    if (n === 1) return true;
    try {
      await k('kaspi_qr_rate_limits').insert({ name, window_start: window, calls: 1 });
      // Old windows are of no use to anyone.
      await k('kaspi_qr_rate_limits').where({ name }).where('window_start', '<', window).delete();
      return true;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      // Another process opened the minute first: count in it.
      const again = await k('kaspi_qr_rate_limits')
        .where({ name, window_start: window })
        .where('calls', '<', limit)
        .update({ calls: k.raw('calls + 1') });
      return again === 1;
    }
  }
}
