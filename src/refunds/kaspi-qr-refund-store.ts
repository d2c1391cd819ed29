import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import { toTiyn, type Tiyn } from '../shared/money.js';

/**
 * What a Kaspi QR return keeps beside its refund row (kaspi_qr_refunds), and the per-purchase lock
 * that lets one return at a time reach Kaspi (kaspi_qr_return_locks). Migration
 * db/migrations/20261202120000_kaspi_qr_returns.ts.
 */

export interface QrRefund {
  refundId: string;
  qrPaymentId: string;
  scheme: 'r2' | 'r3';
  qrReturnId: string | null;
  /** AvailableReturnAmount read just before the first send (tiyn). */
  availableBefore: Tiyn | null;
  /** payment/return calls that may have reached Kaspi. */
  sends: number;
  returnOperationId: string | null;
  note: string | null;
}

type Row = Record<string, unknown>;

function toQrRefund(r: Row): QrRefund {
  return {
    refundId: String(r.refund_id),
    qrPaymentId: String(r.qr_payment_id),
    scheme: r.scheme === 'r2' ? 'r2' : 'r3',
    qrReturnId: r.qr_return_id == null ? null : String(r.qr_return_id),
    availableBefore: r.available_before == null ? null : toTiyn(r.available_before),
    sends: Number(r.sends ?? 0),
    returnOperationId: r.return_operation_id == null ? null : String(r.return_operation_id),
    note: r.note == null ? null : String(r.note),
  };
}

export class KaspiQrRefundStore {
  constructor(private readonly db: Db) {}

  async insert(
    trx: Knex.Transaction,
    r: Pick<QrRefund, 'refundId' | 'qrPaymentId' | 'scheme' | 'qrReturnId' | 'availableBefore'>,
  ): Promise<void> {
    await trx('kaspi_qr_refunds').insert({
      refund_id: r.refundId,
      qr_payment_id: r.qrPaymentId,
      scheme: r.scheme,
      qr_return_id: r.qrReturnId,
      available_before: r.availableBefore,
      sends: 0,
      updated_at: dbTime(),
    });
  }

  async find(refundId: string): Promise<QrRefund | null> {
    const r = (await this.db.knex('kaspi_qr_refunds').where({ refund_id: refundId }).first()) as
      Row | undefined;
    return r ? toQrRefund(r) : null;
  }

  /** Counted BEFORE the call leaves: a crash after it still knows a send may have reached Kaspi. */
  async countSend(refundId: string): Promise<void> {
    await this.db
      .knex('kaspi_qr_refunds')
      .where({ refund_id: refundId })
      .update({ sends: this.db.knex.raw('sends + 1'), updated_at: dbTime() });
  }

  async update(
    refundId: string,
    patch: { returnOperationId?: string | null; note?: string | null; availableBefore?: Tiyn },
    trx?: Knex.Transaction,
  ): Promise<void> {
    const u: Record<string, unknown> = { updated_at: dbTime() };
    if (patch.returnOperationId !== undefined) u.return_operation_id = patch.returnOperationId;
    if (patch.note !== undefined) u.note = patch.note?.slice(0, 255) ?? null;
    if (patch.availableBefore !== undefined) u.available_before = patch.availableBefore;
    await (trx ?? this.db.knex)('kaspi_qr_refunds').where({ refund_id: refundId }).update(u);
  }
}

/**
 * One return at a time per purchase, across processes and hosts: a row per purchase in
 * kaspi_qr_return_locks. Taken by inserting it, or by claiming a row whose time ran out (its holder
 * died) with one conditional UPDATE, so of two contenders exactly one wins. `renew` before each send
 * fences a holder that stalled past its time: it sends nothing once another took the purchase.
 */
export class ReturnLock {
  constructor(
    private readonly db: Db,
    private readonly holdMs: number,
  ) {}

  /** A fresh owner id for one holder. */
  static owner(): string {
    return randomBytes(12).toString('hex');
  }

  async tryTake(qrPaymentId: string, owner: string, now = new Date()): Promise<boolean> {
    const until = dbTime(new Date(now.getTime() + this.holdMs));
    try {
      await this.db
        .knex('kaspi_qr_return_locks')
        .insert({ qr_payment_id: qrPaymentId, owner, locked_until: until });
      return true;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    const n = await this.db
      .knex('kaspi_qr_return_locks')
      .where({ qr_payment_id: qrPaymentId })
      .where('locked_until', '<', dbTime(now))
      .update({ owner, locked_until: until });
    return n === 1;
  }

  /** Waits for the purchase up to `waitMs`; false when another holder kept it all that time. */
  async take(qrPaymentId: string, owner: string, waitMs: number): Promise<boolean> {
    const end = Date.now() + waitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
      if (await this.tryTake(qrPaymentId, owner)) return true;
      if (Date.now() + pause > end) return false;
      await new Promise((r) => setTimeout(r, pause + Math.random() * pause));
    }
  }

  /** Still ours? Then it is held for another full period. */
  async renew(qrPaymentId: string, owner: string, now = new Date()): Promise<boolean> {
    const n = await this.db
      .knex('kaspi_qr_return_locks')
      .where({ qr_payment_id: qrPaymentId, owner })
      .update({ locked_until: dbTime(new Date(now.getTime() + this.holdMs)) });
    return n === 1;
  }

  async release(qrPaymentId: string, owner: string): Promise<void> {
    await this.db.knex('kaspi_qr_return_locks').where({ qr_payment_id: qrPaymentId, owner }).delete();
  }
}
