import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { CreditRetryJob } from '../payments/credit-retry-job.js';
import type { PaymentService } from '../payments/payment-service.js';
import type { PaymentStore } from '../payments/payment-store.js';
import { refundPollJob, type RefundPoller } from '../refunds/refund-poller.js';
import { purgeRequestLog } from './request-log-retention.js';
import type { JobDefinition } from './scheduler.js';

/** What the jobs need of the wiring's stores and services (src/wiring passes its own). */
export interface JobDeps {
  config: Config;
  db: Db;
  stores: { payments: PaymentStore };
  services: { payments: PaymentService; refunds: { readonly enabled: boolean }; refundPoller: RefundPoller };
  /** r2 return sessions' engine (Kaspi QR returns); absent or null when Kaspi QR is off. */
  qrReturnSessions?: { run(opts: { signal?: AbortSignal }): Promise<number> } | null;
}

export const QR_RETURN_SESSIONS_JOB = 'kaspi-qr-return-sessions';

export const CREDIT_RETRY_JOB = 'credit-retry';

/**
 * Every cron job of the service, in one list: name, schedule, lease and what it runs. The
 * composition root registers them all with the Scheduler; add a job here and nowhere else.
 */
export function buildJobs(deps: JobDeps): JobDefinition[] {
  const { config, db, stores, services } = deps;
  const creditRetry = new CreditRetryJob(services.payments, stores.payments, {
    batchSize: config.RETRY_BATCH_SIZE,
    stuckAfterMs: config.RETRY_STUCK_AFTER_MS,
  });
  const jobs: JobDefinition[] = [
    {
      name: CREDIT_RETRY_JOB,
      cron: config.RETRY_CRON,
      leaseMs: config.RETRY_LEASE_MS,
      run: (ctx) => creditRetry.run(ctx),
    },
    {
      name: 'request-log-retention',
      cron: config.REQUEST_LOG_RETENTION_CRON,
      leaseMs: 60_000,
      run: async (ctx) => {
        await purgeRequestLog(db, config.REQUEST_LOG_RETENTION_DAYS, new Date(), {
          shouldStop: () => ctx.signal.aborted,
        });
      },
    },
  ];
  // Follows refunds with Kaspi; without REFUND_API_URL there is no one to ask.
  if (services.refunds.enabled) {
    jobs.push(refundPollJob(services.refundPoller, config.REFUND_POLL_CRON));
  }
  const sessions = deps.qrReturnSessions;
  if (sessions) {
    // Each session is still polled at its own QrCodeScanEventPollingInterval; the tick looks for due ones.
    jobs.push({
      name: QR_RETURN_SESSIONS_JOB,
      cron: config.KASPI_QR_POLL_CRON,
      leaseMs: config.KASPI_QR_TIMEOUT_MS * 12 + 30_000,
      run: async (ctx) => {
        await sessions.run({ signal: ctx.signal });
      },
    });
  }
  return jobs;
}
