import type { Actor } from '../audit/audit-log.js';
import type { Db } from '../db/db.js';
import type { PaymentService } from '../payments/payment-service.js';
import type { PaymentSource, PaymentStore } from '../payments/payment-store.js';
import type { RefundService } from '../refunds/refund-service.js';
import type { Item, ItemClass } from './reconcile-matcher.js';
import type { ReconcileStore, Run } from './reconcile-store.js';
import type { Profile } from './registry-profile.js';
import type { DelimiterChoice, EncodingChoice } from './registry-reader.js';

/** What the reconcile parts share: settings, options, the actions and the dependencies. */

export interface ReconcileSettings {
  defaultProfile: string;
  sources: readonly PaymentSource[];
  cutoff: string;
  graceBusinessDays: number;
  holidays: ReadonlySet<string>;
  maxBytes: number;
  maxRows: number;
  maxUnzippedBytes: number;
  /** KASPI_TXN_DATE_OFFSET: Kaspi's wall time, of every day and deadline. */
  offset: string;
  requestLogRetentionDays: number;
  /** RECONCILE_EXPECT_DAILY: a business day no registry covers is warned of, then an error. */
  expectDaily?: boolean;
  /** RECONCILE_COMMISSION_PERCENT ("1.95"), or null: no commission check. */
  commissionPercent?: string | null;
}

export interface ImportOptions {
  fileName?: string | null;
  kind?: 'daily' | 'monthly';
  from?: string | null; // YYYY-MM-DD
  to?: string | null;
  profile?: string | null;
  sheet?: string | null;
  encoding?: EncodingChoice;
  delimiter?: DelimiterChoice;
  receivedAt?: Date | null;
  replaces?: string | null;
  rerun?: boolean;
  dryRun?: boolean;
  origin: 'cli' | 'api' | 'console';
  actor: Actor;
  operator?: string | null;
}

export interface ImportResult {
  run: Run | null;
  duplicate: boolean;
  /** A dry run: the match as it would be stored. */
  preview?: { items: Item[]; totals: unknown; period: unknown };
}

export type ResolveAction = 'credit' | 'refund' | 'record-refund' | 'link' | 'accept' | 'ignore';
export const RESOLVE_ACTIONS: readonly ResolveAction[] = [
  'credit',
  'refund',
  'record-refund',
  'link',
  'accept',
  'ignore',
];

/** The actions each class takes (accept and ignore: every class, with a note). */
const CLASS_ACTIONS: Partial<Record<ItemClass, ResolveAction[]>> = {
  MISSING_OURS: ['credit'],
  REFUSED_OURS: ['credit', 'refund'],
  TXN_ID_PRECISION: ['link'],
  REFUND_MISSING_OURS: ['record-refund'],
  REFUND_STATUS_DIFFERS: ['record-refund'],
};

/** What an item of this class may be resolved with (the console's form offers these). */
export function allowedActions(cls: ItemClass): ResolveAction[] {
  return [...(CLASS_ACTIONS[cls] ?? []), 'accept', 'ignore'];
}

export interface ResolveInput {
  action: string;
  note?: string | null;
  account?: string | null;
  payment?: string | null;
  actor: Actor;
}

export interface ReconcileDeps {
  db: Db;
  store: ReconcileStore;
  payments: PaymentService;
  paymentStore: PaymentStore;
  profiles: ReadonlyMap<string, Profile>;
  settings: ReconcileSettings;
  /** Told after the commit: kick the refund poll for REFUND_PENDING_OURS (null when refunds are off). */
  pollRefundNow?: ((refundId: string) => Promise<void>) | null;
  /** The refund ledger, for the `refund` and `record-refund` resolutions (null: those are refused). */
  refunds?: Pick<RefundService, 'create' | 'recordDone'> | null;
}
