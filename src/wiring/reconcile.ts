import path from 'node:path';
import type { Config } from '../config/config.js';
import { dbTime, type Db } from '../db/db.js';
import type { PaymentService } from '../payments/payment-service.js';
import type { PaymentSource } from '../payments/payment-store.js';
import { ReconcileService } from '../reconcile/reconcile-service.js';
import { ReconcileStore } from '../reconcile/reconcile-store.js';
import { loadProfiles } from '../reconcile/registry-profile.js';
import type { RefundService } from '../refunds/refund-service.js';
import { PENDING_STATUSES, type RefundStore } from '../refunds/refund-store.js';
import type { Stores } from './stores.js';

/** The reconcile capability: profiles read and validated once, at start (a bad profile stops the start). */
export function createReconcileService(
  config: Config,
  db: Db,
  stores: Pick<Stores, 'payments'>,
  payments: PaymentService,
  refunds: RefundStore,
  refundService: RefundService | null = null,
): ReconcileService {
  return new ReconcileService({
    db,
    store: new ReconcileStore(db),
    payments,
    paymentStore: stores.payments,
    profiles: loadProfiles(path.resolve(config.RECONCILE_PROFILES_DIR)),
    refunds: refundService,
    pollRefundNow: async (refundId) => {
      await refunds.transition(undefined, refundId, PENDING_STATUSES, { nextPollAt: dbTime() });
    },
    settings: {
      defaultProfile: config.RECONCILE_PROFILE,
      sources: config.RECONCILE_SOURCES.split(',') as PaymentSource[],
      cutoff: config.RECONCILE_CUTOFF,
      graceBusinessDays: config.RECONCILE_GRACE_BUSINESS_DAYS,
      holidays: new Set(
        config.RECONCILE_HOLIDAYS.split(',')
          .filter(Boolean)
          .map((d) => d.replace(/-/g, '')),
      ),
      maxBytes: config.RECONCILE_MAX_FILE_BYTES,
      maxRows: config.RECONCILE_MAX_ROWS,
      maxUnzippedBytes: config.RECONCILE_MAX_UNZIPPED_BYTES,
      offset: config.KASPI_TXN_DATE_OFFSET,
      requestLogRetentionDays: config.REQUEST_LOG_RETENTION_DAYS,
      expectDaily: config.RECONCILE_EXPECT_DAILY,
      commissionPercent: config.RECONCILE_COMMISSION_PERCENT || null,
    },
  });
}
