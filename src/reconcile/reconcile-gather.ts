import { readTxnDate } from '../shared/txn-date.js';
import { periodRange, wallAt } from './reconcile-calendar.js';
import type { HeldRecords } from './reconcile-held.js';
import { commissionItems } from './reconcile-commission.js';
import {
  match,
  NOWHERE,
  sortItems,
  type MatchInput,
  type MatchResult,
  type OurPayment,
} from './reconcile-matcher.js';
import type { ReconcileSettings } from './reconcile-types.js';
import { precisionPrefix } from './registry-parse.js';
import type { Profile, RegistryRow } from './registry-profile.js';

export function matchSettings(
  s: ReconcileSettings,
  profile: Profile,
  receivedAt: Date,
): MatchInput['settings'] {
  return {
    cutoff: s.cutoff,
    accountCompare: profile.accountCompare,
    offset: s.offset,
    receivedWall: wallAt(receivedAt, s.offset),
    graceBusinessDays: s.graceBusinessDays,
    holidays: s.holidays,
  };
}

/**
 * Reads what the pure matcher needs of what we hold for these rows (./reconcile-held.ts), then
 * matches. One object per payment of ours: the period's payments, by txn_id, are also the lookup of
 * the rows' txn_ids; only the rows' txn_ids outside the period are read on top.
 */
export async function gatherAndMatch(
  held: HeldRecords,
  s: ReconcileSettings,
  rows: readonly RegistryRow[],
  fileId: string | null,
  period: { from: string; to: string } | null,
  profile: Profile,
  receivedAt: Date,
): Promise<MatchResult> {
  const settings = matchSettings(s, profile, receivedAt);
  const data = rows.filter((r) => (r.kind === 'payment' || r.kind === 'refund') && r.txnId);
  const exact = data.filter((r) => !r.txnIdPrecision).map((r) => r.txnId as string);
  const refundsByTxn = await held.refundsByTxn(
    data.filter((r) => r.kind === 'refund' && !r.txnIdPrecision).map((r) => r.txnId as string),
    s.offset,
  );
  const precision = data
    .filter((r) => r.txnIdPrecision)
    .map((r) => ({
      prefix: precisionPrefix(r.txnId as string),
      length: (r.txnId as string).length,
      amount: r.amount as number,
    }));
  const precisionCandidates = precision.length ? await held.precisionCandidates(s.sources, precision) : [];
  // The period: given, or the days the rows span (the matcher infers it the same way).
  let p = period;
  if (!p) {
    const probe = match({
      rows: rows.filter((r) => r.kind === 'payment' || r.kind === 'refund'),
      paymentsByTxn: new Map(),
      refundsByTxn: new Map(),
      periodPayments: [],
      periodRefunds: [],
      precisionCandidates: [],
      elsewhere: NOWHERE,
      period: null,
      settings,
    });
    p = probe.ok && probe.period ? { from: probe.period.from, to: probe.period.to } : null;
  }
  const ours = new Map<string, OurPayment>();
  const periodPayments: OurPayment[] = [];
  let periodRefunds: MatchInput['periodRefunds'] = [];
  if (p) {
    const range = periodRange(p.from, p.to, s.cutoff);
    for await (const page of held.paymentsInRange(s.sources, range.start, range.end))
      for (const x of page) {
        ours.set(x.txnId, x);
        periodPayments.push(x);
      }
    const utc = (w: string) => new Date(readTxnDate(w, s.offset)?.utc.replace(' ', 'T') + 'Z');
    periodRefunds = await held.successRefundsFinished(utc(range.start), utc(range.end), s.offset);
  }
  await held.paymentsByTxn(
    s.sources,
    exact.filter((t) => !ours.has(t)),
    ours,
  );
  const listed = new Set(exact);
  for (const x of periodPayments) listed.add(x.txnId);
  for (const x of periodRefunds) listed.add(x.txnId);
  const elsewhere = await held.elsewhere(fileId, listed);
  const result = match({
    rows,
    paymentsByTxn: ours,
    refundsByTxn,
    periodPayments,
    periodRefunds,
    precisionCandidates,
    elsewhere,
    period,
    settings,
  });
  // RECONCILE_COMMISSION_PERCENT: the rows' commission against the rate (COMMISSION_RATE, watched).
  if (result.ok && s.commissionPercent) {
    const extra = commissionItems(rows, s.commissionPercent, s, settings.receivedWall.slice(0, 8));
    if (extra.length) {
      result.items = sortItems([...result.items, ...extra]);
      result.totals.byClass.COMMISSION_RATE = {
        count: extra.length,
        amount: extra.reduce((a, i) => a + (i.registryAmount ?? 0), 0),
      };
    }
  }
  return result;
}
