/**
 * The matcher (registries-seed-notes §1.6, §1.7): the canonical rows of one registry and what we
 * hold → items and one-to-one matches. Pure: no I/O, no clock (the time it needs comes in), so
 * it is property-tested (test/reconcile/matcher-property.test.ts). The key is txn_id alone, by the
 * exact string; amounts compare as integers of tiyn with no tolerance.
 *
 * The run is split by pass: the state (reconcile-matcher-run.ts), the rows in file order
 * (-rows.ts, refund rows in -refund.ts), then what we hold for the period (-period.ts); the
 * types live in reconcile-matcher-types.ts and are re-exported here, so importers use this file.
 */
import { periodRange, registryDay } from './reconcile-calendar.js';
import { ca, looksScaled, MatchRun } from './reconcile-matcher-run.js';
import { periodPass } from './reconcile-matcher-period.js';
import { rowPass } from './reconcile-matcher-rows.js';
import type {
  CountAmount,
  Item,
  ItemClass,
  MatchInput,
  MatchResult,
  Severity,
} from './reconcile-matcher-types.js';

export {
  CLASSES,
  COUNTED_ONLY,
  NOWHERE,
  type CountAmount,
  type Elsewhere,
  type Item,
  type ItemClass,
  type Match,
  type MatchInput,
  type MatchResult,
  type MatchSettings,
  type OurPayment,
  type OurRefund,
  type Severity,
  type Totals,
} from './reconcile-matcher-types.js';

const SEVERITY_RANK: Record<Severity, number> = { action: 0, watch: 1, info: 2 };

export function sortItems<T extends Pick<Item, 'severity' | 'dueAt' | 'rowNo' | 'txnId'>>(items: T[]): T[] {
  const due = (d: string | null) => (d === null ? Infinity : Date.parse(d));
  return items.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      due(a.dueAt) - due(b.dueAt) ||
      (a.rowNo ?? Infinity) - (b.rowNo ?? Infinity) ||
      (a.txnId ?? '').localeCompare(b.txnId ?? ''),
  );
}

export function match(input: MatchInput): MatchResult {
  const s = input.settings;
  const receivedDay = s.receivedWall.slice(0, 8);
  const dataRows = input.rows.filter((r) => r.kind === 'payment' || r.kind === 'refund');
  let period: { from: string; to: string; inferred: boolean } | null = null;
  if (input.period) period = { ...input.period, inferred: false };
  else {
    const days = dataRows.map((r) => registryDay(r.dateRaw as string, s.cutoff)).sort();
    if (days.length)
      period = { from: days[0] as string, to: days[days.length - 1] as string, inferred: true };
  }
  const range = period ? periodRange(period.from, period.to, s.cutoff) : null;
  const monthDay = period?.to ?? receivedDay;

  if (looksScaled(dataRows, input))
    return { ok: false, error: 'amounts look like tiyn/tenge: check the profile' };

  const run = new MatchRun(input, dataRows, monthDay);
  rowPass(run);
  const ours = periodPass(run, range);
  if (dataRows.length === 0) run.warnings.push('registry with no rows');

  const { items, matches, warnings, registry, matched } = run;
  const byClass: Partial<Record<ItemClass, CountAmount>> = {};
  const bump = (c: ItemClass, amount: number) => {
    const b = (byClass[c] ??= ca());
    b.count++;
    b.amount += amount;
  };
  if (matched.payments.count) byClass.MATCHED = { ...matched.payments };
  if (matched.refunds.count) byClass.REFUND_MATCHED = { ...matched.refunds };
  for (const it of items) bump(it.class, it.registryAmount ?? it.ourAmount ?? 0);
  registry.net =
    registry.payments.amount - registry.refunds.amount - registry.commission + registry.returnedCommission;
  return {
    ok: true,
    items: sortItems(items),
    matches,
    totals: { registry, ours, matched, byClass },
    period,
    warnings,
  };
}
