import type { Config } from '../config/config.js';
import type { Db } from '../db/db.js';
import { CreditRetryJob } from '../payments/credit-retry-job.js';
import type { PaymentService } from '../payments/payment-service.js';
import type { PaymentStore } from '../payments/payment-store.js';
import { refundPollJob, type RefundPoller } from '../refunds/refund-poller.js';
import { purgeRequestLog } from './request-log-retention.js';
import type { JobDefinition } from './scheduler.js';
import type { KaspiQrEngine } from '../kaspi-qr/kaspi-qr-engine.js';
import type { KaspiQrService } from '../kaspi-qr/kaspi-qr-service.js';

/** What the jobs need of the wiring's stores and services (src/wiring passes its own). */
export interface JobDeps {
  config: Config;
  db: Db;
  stores: { payments: PaymentStore };
  services: {
    payments: PaymentService;
    refunds: { readonly enabled: boolean };
    refundPoller: RefundPoller;
    kaspiQr: { engine: KaspiQrEngine; service: KaspiQrService } | null;
    reconcile?: { watch(now?: Date): Promise<unknown> };
  };
  /** r2 return sessions' engine (Kaspi QR returns); absent or null when Kaspi QR is off. */
  qrReturnSessions?: { run(opts: { signal?: AbortSignal }): Promise<number> } | null;
  /** Remote invoices' one automatic check (24 h + 5 min); absent or null when Kaspi QR is off. */
  qrRemote?: { expire(now?: Date): Promise<number> } | null;
}

export const QR_REMOTE_EXPIRY_JOB = 'kaspi-qr-remote-expiry';

export const QR_RETURN_SESSIONS_JOB = 'kaspi-qr-return-sessions';
export const KASPI_QR_ENGINE_JOB = 'kaspi-qr-status';
export const KASPI_QR_CERT_JOB = 'kaspi-qr-certificate';

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
  // Closes reconciliation items that healed, escalates watched ones past their grace, logs overdue ones.
  const reconcile = services.reconcile;
  if (reconcile) {
    jobs.push({
      name: 'reconcile-watch',
      cron: config.RECONCILE_WATCH_CRON,
      leaseMs: 10 * 60_000,
      run: async () => {
        await reconcile.watch();
      },
    });
  }
  // Follows refunds with Kaspi; without REFUND_API_URL there is no one to ask.
  if (services.refunds.enabled) {
    jobs.push(refundPollJob(services.refundPoller, config.REFUND_POLL_CRON));
  }
  const qr = services.kaspiQr;
  if (qr) {
    // Each purchase is still polled at its own StatusPollingInterval; the tick only looks for due ones.
    jobs.push({
      name: KASPI_QR_ENGINE_JOB,
      cron: config.KASPI_QR_POLL_CRON,
      leaseMs: config.KASPI_QR_TIMEOUT_MS * 3 + 15_000,
      run: async (ctx) => {
        await qr.engine.run({ signal: ctx.signal });
      },
    });
    // One process a day: a WARN from 30 days before the client certificate expires.
    jobs.push({
      name: KASPI_QR_CERT_JOB,
      cron: '0 0 9 * * *',
      leaseMs: 60_000,
      run: async () => {
        qr.service.logCertificate(new Date(), 'daily');
      },
    });
  }
  const remote = deps.qrRemote;
  if (remote) {
    // Not a status poll: only invoices 24 h + 5 min old are looked at, each once (the guide forbids timers).
    jobs.push({
      name: QR_REMOTE_EXPIRY_JOB,
      cron: '30 * * * * *',
      leaseMs: config.KASPI_QR_TIMEOUT_MS * 12 + 30_000,
      run: async () => {
        await remote.expire();
      },
    });
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
