import { addBusinessDays, endOfDay } from './reconcile-calendar.js';
import type { Item } from './reconcile-matcher.js';
import type { RegistryRow } from './registry-profile.js';

/**
 * The commission check (registries-seed-notes §1.7 `COMMISSION_RATE`, C §4.4), only with
 * RECONCILE_COMMISSION_PERCENT: a payment row whose commission differs from round(amount × rate) by
 * more than 1 tiyn is watched, due 5 business days after the 15th of the next month (the Act of
 * services arrives by the 15th; it is answered within 5 business days). Integers only: the percent
 * as millionths of a percent, the product in BigInt, rounded half up. Pure.
 */
export function commissionItems(
  rows: readonly RegistryRow[],
  percent: string,
  s: { offset: string; holidays: ReadonlySet<string> },
  receivedDay: string,
): Item[] {
  const [whole, frac = ''] = percent.split('.');
  const millionths = BigInt(whole as string) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
  const out: Item[] = [];
  for (const r of rows) {
    if (r.kind !== 'payment' || r.commission === null || r.amount === null || r.statusSuccess === false)
      continue;
    // amount × percent / 100, with the percent in millionths: / 10^8, half up.
    const expected = Number((BigInt(r.amount) * millionths + 50_000_000n) / 100_000_000n);
    if (Math.abs(r.commission - expected) <= 1) continue;
    const day = (r.dateRaw ?? receivedDay).slice(0, 8);
    const y = +day.slice(0, 4);
    const m = +day.slice(4, 6);
    const actDay = `${m === 12 ? y + 1 : y}${String(m === 12 ? 1 : m + 1).padStart(2, '0')}15`;
    out.push({
      class: 'COMMISSION_RATE',
      severity: 'watch',
      dueAt: endOfDay(addBusinessDays(actDay, 5, s.holidays), s.offset),
      escalateAt: null,
      rowNo: r.rowNo,
      txnId: r.txnId,
      refundRef: null,
      paymentId: null,
      refundId: null,
      registryAmount: r.commission,
      ourAmount: expected,
      detail: { amount: r.amount, commission: r.commission, expected, percent },
      suggestedAction: `commission ${percent} % of the amount is ${expected} tiyn: compare with the Act of services; refuse the Act with reasons`,
    });
  }
  return out;
}
