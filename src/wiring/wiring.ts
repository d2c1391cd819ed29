import type { Express } from 'express';
import { HttpBilling } from '../billing/http-billing.js';
import { ConfigError, type Config } from '../config/config.js';
import { createDb, type Db } from '../db/db.js';
import { migrateLatest } from '../db/migrate.js';
import { IpAllowlist } from '../http/ip-allowlist.js';
import { buildJobs } from '../jobs/jobs.js';
import { Scheduler } from '../jobs/scheduler.js';
import { kaspiQrMetrics } from '../kaspi-qr/kaspi-qr-metrics.js';
import { registerSecrets } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { reconcileMetrics } from '../reconcile/reconcile-metrics.js';
import { createApps } from './apps.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import { createServices, type Overrides, type Services } from './services.js';
import { createStores, dbOptions, type Stores } from './stores.js';

/**
 * The composition root, shared by the service (src/main.ts), the CLI and the tests:
 * config → db → stores → services → apps → jobs, one plain function each, no container; a test swaps
 * a piece by passing another in `overrides`. Each step has its file: stores.ts, services.ts (with
 * refunds.ts, kaspi-qr.ts, reconcile.ts for the capabilities that need more than a line), apps.ts,
 * and the jobs' list in src/jobs/jobs.ts. Add a capability with one line per step.
 */

export { createApps } from './apps.js';
export { createKaspiQr, createKaspiQrReturns, type KaspiQrParts, type QrReturnParts } from './kaspi-qr.js';
export { createReconcileService } from './reconcile.js';
export { createRefunds, type RefundParts } from './refunds.js';
export {
  createBilling,
  createServices,
  createUserService,
  type Overrides,
  type Services,
} from './services.js';
export { createStores, dbOptions, type Stores } from './stores.js';

export interface Gateway extends Lifecycle {
  config: Config;
  db: Db;
  stores: Stores;
  services: Services;
  metrics: Metrics;
  app: Express;
  adminApp: Express;
  /** Every job of src/jobs/jobs.ts is registered; crons run only after start() (tests use runNow). */
  scheduler: Scheduler;
}

/** What the config can't check alone, and every secret it holds registered for masking before anything logs. */
function checkConfig(config: Config): void {
  const bad = IpAllowlist.validate(config.KASPI_ALLOWED_IPS);
  if (bad !== null) throw new ConfigError([`KASPI_ALLOWED_IPS: "${bad}" is not an IP address or CIDR`]);
  registerSecrets(
    config.JETPAY_SECRET,
    config.BILLING_TOKEN,
    config.REFUND_API_PASSWORD,
    config.ADMIN_API_KEY,
    databasePassword(config.DATABASE_URL),
  );
}

function databasePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** The registry /metrics serves, with the gauges of the capabilities that are on. */
function createMetrics(config: Config, db: Db, services: Services): Metrics {
  const metrics = new Metrics(db, { stuckAfterMs: config.RETRY_STUCK_AFTER_MS });
  const rc = reconcileMetrics(metrics.registry, db, services.reconcile, config.KASPI_TXN_DATE_OFFSET);
  metrics.addDatabaseGauges((now) => rc.refresh(now));
  const qr = services.kaspiQr;
  if (qr) {
    const m = kaspiQrMetrics(metrics.registry, qr.service, qr.engine, services.qrRemote);
    qr.observeCalls(m.onCall);
    metrics.addDatabaseGauges(async (now) => {
      metrics.setOldestPending('kaspi_qr', (await m.refresh(now)).oldestOpenSeconds);
    });
  }
  return metrics;
}

/** Every job of src/jobs/jobs.ts registered; none runs before start(). */
function createScheduler(config: Config, db: Db, stores: Stores, services: Services, metrics: Metrics) {
  // A job gets the same time to wind down as a request in flight; both fit in pm2's kill_timeout.
  const scheduler = new Scheduler(db, { stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  const jobs = buildJobs({
    config,
    db,
    stores,
    services,
    qrReturnSessions: services.qrReturns?.sessions ?? null,
    qrRemote: services.qrRemote,
  });
  for (const job of jobs) scheduler.register(job);
  metrics.watchJobs(scheduler);
  return scheduler;
}

/** The whole service, built and migrated but not listening: start() and stop() are its lifecycle. */
export async function buildGateway(config: Config, overrides: Overrides = {}): Promise<Gateway> {
  checkConfig(config);
  const db = overrides.db ?? createDb(config.DATABASE_URL, dbOptions(config));
  await migrateLatest(db);
  const stores = createStores(db);
  const services = createServices(config, db, stores, overrides);
  const metrics = createMetrics(config, db, services);
  const { app, adminApp } = createApps(config, db, stores, services, metrics);
  const scheduler = createScheduler(config, db, stores, services, metrics);

  const kaspiQr = services.kaspiQr;
  const lifecycle = createLifecycle({
    config,
    db,
    ownsDb: !overrides.db,
    app,
    adminApp,
    metrics,
    scheduler,
    drainPayments: (ms) => services.payments.drain(ms),
    afterStart: kaspiQr ? () => kaspiQr.service.start() : undefined,
    beforeDbClose: async () => {
      if (services.billing instanceof HttpBilling) services.billing.close();
      services.refundApi?.close();
      kaspiQr?.service.client.close();
      await stores.requestLog.flush();
    },
  });
  return { config, db, stores, services, metrics, app, adminApp, scheduler, ...lifecycle };
}
