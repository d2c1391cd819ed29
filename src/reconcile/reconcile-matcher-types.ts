/**
 * The matcher's vocabulary: the item classes, what goes in (our payments and refunds, what other
 * registries hold, the settings) and what comes out (items, matches, totals). Split out of
 * reconcile-matcher.ts to keep files short; importers keep using reconcile-matcher.ts.
 */
import type { Profile, RegistryRow } from './registry-profile.js';

export const CLASSES = [
  'MATCHED',
  'MISSING_OURS',
  'PENDING_OURS',
  'REFUSED_OURS',
  'AMOUNT_DIFFERS',
  'ACCOUNT_DIFFERS',
  'DATE_DIFFERS',
  'STATUS_NOT_SUCCESS',
  'DUPLICATE_ROW',
  'IN_OTHER_REGISTRY',
  'MISSING_KASPI',
  'PENDING_NOT_LISTED',
  'REFUND_MATCHED',
  'REFUND_MISSING_OURS',
  'REFUND_PENDING_OURS',
  'REFUND_STATUS_DIFFERS',
  'REFUND_AMOUNT_DIFFERS',
  'REFUND_OVER_PAYMENT',
  'REFUND_WITHOUT_PAYMENT',
  'REFUND_MISSING_KASPI',
  'COMMISSION_RATE',
  'FILE_TOTAL_MISMATCH',
  'ROW_INVALID',
  'TXN_ID_PRECISION',
  'EXCLUDED',
] as const;
export type ItemClass = (typeof CLASSES)[number];
export type Severity = 'action' | 'watch' | 'info';

/** Classes that are counted, never listed as items. */
export const COUNTED_ONLY: readonly ItemClass[] = ['MATCHED', 'REFUND_MATCHED'];

export interface OurPayment {
  id: string;
  txnId: string;
  account: string;
  amount: number;
  state: string;
  result: number | null;
  txnDateRaw: string | null;
}

export interface OurRefund {
  id: string;
  txnId: string;
  paymentId: string;
  refundIdentificator: string;
  requestIdentificator: string | null;
  amount: number;
  status: string;
  createdAt: string;
  /** finished_at in Kaspi wall time (YYYYMMDDhhmmss), for "in the period". */
  finishedWall: string | null;
}

/** What other imported, not superseded registries already hold. */
export interface Elsewhere {
  paymentTxnIds: ReadonlySet<string>;
  matchedPaymentIds: ReadonlySet<string>;
  matchedRefundIds: ReadonlySet<string>;
  refundSumByTxn: ReadonlyMap<string, number>;
}

export const NOWHERE: Elsewhere = {
  paymentTxnIds: new Set(),
  matchedPaymentIds: new Set(),
  matchedRefundIds: new Set(),
  refundSumByTxn: new Map(),
};

export interface MatchSettings {
  cutoff: string; // HH:MM
  accountCompare: Profile['accountCompare'];
  offset: string; // +05:00
  /** When the registry was received, Kaspi wall time YYYYMMDDhhmmss. */
  receivedWall: string;
  graceBusinessDays: number;
  holidays: ReadonlySet<string>;
}

export interface MatchInput {
  rows: readonly RegistryRow[];
  /** Our payments (sources RECONCILE_SOURCES) of the rows' txn_ids. */
  paymentsByTxn: ReadonlyMap<string, OurPayment>;
  /** Our refunds of the rows' txn_ids. */
  refundsByTxn: ReadonlyMap<string, readonly OurRefund[]>;
  /** Our payments whose txn_date falls in the period's windows. */
  periodPayments: readonly OurPayment[];
  /** Our `success` refunds finished in the period. */
  periodRefunds: readonly OurRefund[];
  /** Payments sharing a 15-digit prefix with a TXN_ID_PRECISION row. */
  precisionCandidates: readonly OurPayment[];
  elsewhere: Elsewhere;
  /** Given (inclusive days YYYYMMDD), or null to infer from the rows. */
  period: { from: string; to: string } | null;
  settings: MatchSettings;
}

export interface Item {
  class: ItemClass;
  severity: Severity;
  /** ISO instant with Kaspi's offset, or null (no deadline). */
  dueAt: string | null;
  /** When a watch item becomes action (the grace), or null. */
  escalateAt: string | null;
  rowNo: number | null;
  txnId: string | null;
  refundRef: string | null;
  paymentId: string | null;
  refundId: string | null;
  registryAmount: number | null;
  ourAmount: number | null;
  detail: Record<string, unknown>;
  suggestedAction: string;
}

export interface Match {
  rowNo: number;
  paymentId: string | null;
  refundId: string | null;
}

export interface CountAmount {
  count: number;
  amount: number;
}

export interface Totals {
  registry: {
    payments: CountAmount;
    refunds: CountAmount;
    commission: number;
    returnedCommission: number;
    net: number;
    rows: number;
  };
  ours: { credited: CountAmount; pending: CountAmount; failed: CountAmount; refundsSuccess: CountAmount };
  matched: { payments: CountAmount; refunds: CountAmount };
  byClass: Partial<Record<ItemClass, CountAmount>>;
}

export type MatchResult =
  | {
      ok: true;
      items: Item[];
      matches: Match[];
      totals: Totals;
      period: { from: string; to: string; inferred: boolean } | null;
      warnings: string[];
    }
  | { ok: false; error: string };
