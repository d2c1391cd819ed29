import { dbTime } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import { formatTenge } from '../shared/money.js';
import type { KaspiQrService } from './kaspi-qr-service.js';
import { paymentDetails } from './returns-calls.js';

const log = getLogger('kaspi-qr');

/** A check being made is held this long; a process that dies mid-call leaves it due again then. */
const HOLD_MS = 5 * 60_000;
/** A failed read is tried again after 1 min, 2 min, 4 min … at most 1 h apart; after MAX_TRIES, a person. */
const RETRY_MS = 60_000;
const MAX_RETRY_MS = 3_600_000;
const MAX_TRIES = 10;

export const AMOUNT_MISMATCH = 'amount_mismatch';
export const PAID_CHECK_FAILED = 'paid_check_failed';

export interface PaidCheckStats {
  ok: number;
  mismatch: number;
  failed: number;
}

/**
 * The post-payment check (r2/r3; shared/spec/kaspi-qr.md "A Kaspi QR purchase is a payment", notes
 * D-28): once a purchase is paid, payment/details is read once and its TotalAmount compared with
 * the amount we asked (and credited). Another amount flags the payment for a person through
 * src/payments (AwaitingPayments.flag: `payments.flag`) and the purchase's own flag; nothing is
 * corrected or returned automatically. r1 has no payment/details and is trusted on Processed.
 *
 * The check is due (`details_due_at`) from the same write that marks the purchase paid, so it
 * survives the process: whoever marked it paid checks at once (`checkOne`), and the engine's tick
 * (`runDue`) takes up what a dead process or a failed read left. One conditional UPDATE claims
 * each check, so two processes never ask Kaspi twice for one purchase.
 */
export class PaidCheck {
  /** This process's checks, for /metrics. */
  readonly stats: PaidCheckStats = { ok: 0, mismatch: 0, failed: 0 };

  constructor(private readonly service: KaspiQrService) {}

  /** r2 and r3 have payment/details; r1 is trusted on Processed. */
  get applies(): boolean {
    return this.service.client.supports('paymentDetails');
  }

  private get knex() {
    return this.service.deps.db.knex;
  }

  /** The checks due by `now` (the engine's tick). */
  async runDue(now = new Date(), limit = 20): Promise<number> {
    if (!this.applies) return 0;
    const rows = (await this.knex('kaspi_qr_purchases')
      .select('payment_id')
      .where('details_due_at', '<=', dbTime(now))
      .orderBy('details_due_at')
      .limit(limit)) as { payment_id: unknown }[];
    let n = 0;
    for (const r of rows) if (await this.checkOne(String(r.payment_id), now)) n += 1;
    return n;
  }

  /** The check of one paid purchase if it is due and ours to make; true when Kaspi was asked. */
  async checkOne(paymentId: string, now = new Date()): Promise<boolean> {
    if (!this.applies) return false;
    const claimed = await this.knex('kaspi_qr_purchases')
      .where({ payment_id: paymentId })
      .where('details_due_at', '<=', dbTime(now))
      .update({ details_due_at: dbTime(new Date(now.getTime() + HOLD_MS)) });
    if (claimed !== 1) return false;
    const p = await this.service.deps.store.byPaymentId(paymentId);
    if (!p) return false;
    const ids = { paymentId, qrPaymentId: p.qrPaymentId };
    let total: number;
    let transactionDate: string | null;
    try {
      const d = await paymentDetails(this.service.client, {
        qrPaymentId: p.qrPaymentId,
        deviceToken: await this.service.deviceToken(),
      });
      total = d.totalAmount;
      transactionDate = d.transactionDate?.raw ?? null;
    } catch (e) {
      await this.failed(paymentId, ids, e, now);
      return true;
    }
    const mismatch = total !== p.amount;
    await this.knex('kaspi_qr_purchases')
      .where({ payment_id: paymentId })
      .update({
        details_due_at: null,
        kaspi_total_amount: total,
        kaspi_transaction_date: transactionDate?.slice(0, 40) ?? null,
        updated_at: dbTime(),
      });
    if (!mismatch) {
      this.stats.ok += 1;
      return true;
    }
    this.stats.mismatch += 1;
    // The purchase's own flag keeps the first reason (credit_refused says more); the payment's lists all.
    await this.knex('kaspi_qr_purchases')
      .where({ payment_id: paymentId })
      .whereNull('flag')
      .update({ flag: AMOUNT_MISMATCH });
    if (await this.service.deps.awaiting.flag(paymentId, AMOUNT_MISMATCH))
      log.error('kaspi qr: paid with another amount than asked: a person must look (nothing corrected)', {
        ...ids,
        asked: formatTenge(p.amount),
        totalAmount: formatTenge(total),
      });
    return true;
  }

  /** A read that failed: again later; after MAX_TRIES, a person compares it in the Kaspi Pay app. */
  private async failed(paymentId: string, ids: Record<string, string>, e: unknown, now: Date): Promise<void> {
    const r = (await this.knex('kaspi_qr_purchases')
      .select('details_tries')
      .where({ payment_id: paymentId })
      .first()) as { details_tries: unknown } | undefined;
    const tries = Number(r?.details_tries ?? 0) + 1;
    const err = e instanceof Error ? e.message : String(e);
    if (tries >= MAX_TRIES) {
      this.stats.failed += 1;
      await this.knex('kaspi_qr_purchases')
        .where({ payment_id: paymentId })
        .update({ details_due_at: null, details_tries: tries, updated_at: dbTime() });
      if (await this.service.deps.awaiting.flag(paymentId, PAID_CHECK_FAILED))
        log.error(
          'kaspi qr: the amount paid could not be checked (payment/details kept failing): a person compares it in the Kaspi Pay app',
          { ...ids, tries, err },
        );
      return;
    }
    const next = new Date(now.getTime() + Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (tries - 1)));
    await this.knex('kaspi_qr_purchases')
      .where({ payment_id: paymentId })
      .update({ details_due_at: dbTime(next), details_tries: tries });
    if (tries === 1)
      log.warn('kaspi qr: payment/details after the payment not read: tried again later', {
        ...ids,
        err,
        next: next.toISOString(),
      });
  }
}
