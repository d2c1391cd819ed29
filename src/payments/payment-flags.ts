import { dbTime, type Db } from '../db/db.js';

/**
 * Reasons a person must look at a payment (`payments.flag`, comma-separated, and `flagged_at`):
 * JetPay's deposits (success after decline, amount mismatch...) and Kaspi QR purchases (paid with
 * another TotalAmount than asked). Only src/payments writes the payments table; channels ask here.
 */
export class PaymentFlags {
  constructor(private readonly db: Db) {}

  /**
   * Adds a reason once: true when this call added it (the caller logs the ERROR then), false when
   * it was already there (a replay) or there is no such payment. Compare-and-set on the old value,
   * so two concurrent flags both land.
   */
  async add(id: string, flag: string): Promise<boolean> {
    if (!/^[a-z_]{1,64}$/.test(flag)) throw new Error(`not a flag: ${flag}`);
    for (let attempt = 0; attempt < 10; attempt++) {
      const r = (await this.db.knex('payments').select('flag').where({ id }).first()) as
        { flag: string | null } | undefined;
      if (!r) return false;
      const old = r.flag;
      const reasons = old ? old.split(',') : [];
      if (reasons.includes(flag)) return false;
      const q = this.db.knex('payments').where({ id });
      const n = await (old === null ? q.whereNull('flag') : q.where({ flag: old })).update({
        flag: [...reasons, flag].join(',').slice(0, 255),
        flagged_at: dbTime(),
      });
      if (n === 1) return true;
    }
    throw new Error(`could not flag payment ${id}: its flag keeps changing`);
  }

  /** The reasons on a payment (empty when none). */
  async of(id: string): Promise<string[]> {
    const r = (await this.db.knex('payments').select('flag').where({ id }).first()) as
      { flag: string | null } | undefined;
    return r?.flag ? r.flag.split(',') : [];
  }
}
