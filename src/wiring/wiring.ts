import type { Express, Router } from 'express';
import { createAdminApp } from '../admin/admin-app.js';
import { adminApiRoutes } from '../admin/admin-api-routes.js';
import { adminAuth } from '../admin/admin-auth.js';
import { AuditStore } from '../audit/audit-log.js';
import { auditRoutes } from '../audit/audit-routes.js';
import { AccountAdmin } from '../billing/account-admin.js';
import { createApp } from '../app.js';
import { AccountStore } from '../billing/account-store.js';
import type { Billing } from '../billing/billing.js';
import { HttpBilling } from '../billing/http-billing.js';
import { SqlBilling } from '../billing/sql-billing.js';
import { ConfigError, jetpayEnabled, type Config } from '../config/config.js';
import { consoleRoutes } from '../console/console-routes.js';
import { ConsoleQueries } from '../console/console-queries.js';
import { SessionStore } from '../console/session-store.js';
import { UserService } from '../console/user-service.js';
import { UserStore } from '../console/user-store.js';
import { createDb, dbTime, type Db, type DbOptions } from '../db/db.js';
import { migrateLatest } from '../db/migrate.js';
import { IpAllowlist, trustProxySetting } from '../http/ip-allowlist.js';
import { RequestLog } from '../http/request-log.js';
import { requestLogEvidence } from '../http/request-log-evidence.js';
import { jetpayRoutes } from '../jetpay/jetpay-routes.js';
import { JetpayService } from '../jetpay/jetpay-service.js';
import { buildJobs } from '../jobs/jobs.js';
import { Scheduler } from '../jobs/scheduler.js';
import { registerSecrets } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { DepositStore } from '../payments/deposit-store.js';
import { createPaymentService, type PaymentService } from '../payments/payment-service.js';
import { PaymentStore } from '../payments/payment-store.js';
import { OneCallCredit } from '../payments/record-and-credit/one-call.js';
import { RefundApiClient } from '../refunds/refund-api-client.js';
import { refundBillingFor, type RefundBilling } from '../refunds/refund-billing.js';
import { RefundPoller } from '../refunds/refund-poller.js';
import { refundRoutes } from '../refunds/refund-routes.js';
import { RefundService } from '../refunds/refund-service.js';
import { PENDING_STATUSES, RefundStore } from '../refunds/refund-store.js';
import { RefundTokenStore } from '../refunds/refund-token-store.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import path from 'node:path';
import { reconcileRoutes } from '../reconcile/reconcile-routes.js';
import { ReconcileService } from '../reconcile/reconcile-service.js';
import { ReconcileStore } from '../reconcile/reconcile-store.js';
import { loadProfiles } from '../reconcile/registry-profile.js';
import type { PaymentSource } from '../payments/payment-store.js';
import { AwaitingPayments } from '../payments/awaiting-payments.js';
import { PaymentFlags } from '../payments/payment-flags.js';
import { AttemptStore } from '../kaspi-qr/kaspi-qr-attempts.js';
import { KaspiQrClient } from '../kaspi-qr/kaspi-qr-client.js';
import { KaspiQrEngine } from '../kaspi-qr/kaspi-qr-engine.js';
import { kaspiQrMetrics } from '../kaspi-qr/kaspi-qr-metrics.js';
import type { MethodName } from '../kaspi-qr/kaspi-qr-methods.js';
import { kaspiQrRoutes } from '../kaspi-qr/kaspi-qr-routes.js';
import { payPageRoutes } from '../kaspi-qr/pay-page.js';
import { KaspiQrService } from '../kaspi-qr/kaspi-qr-service.js';
import { KaspiQrStore } from '../kaspi-qr/kaspi-qr-store.js';
import { parseLateChecks } from '../config/kaspi-qr-config.js';
import { KaspiQrRefundStore, ReturnLock } from '../refunds/kaspi-qr-refund-store.js';
import { KaspiQrReturns, type KaspiQrPort } from '../refunds/kaspi-qr-returns.js';
import { ReturnSessions, ReturnSessionStore } from '../refunds/kaspi-qr-return-sessions.js';
import { returnPageRoutes, returnSessionRoutes } from '../refunds/kaspi-qr-return-routes.js';
import { RemoteInvoices } from '../kaspi-qr/remote-invoice.js';
import { RemoteInvoiceStore } from '../kaspi-qr/remote-invoice-store.js';
import { remoteInvoiceRoutes } from '../kaspi-qr/remote-invoice-routes.js';

/**
 * The composition root, shared by the service (src/main.ts), the CLI and the tests:
 * config → db → stores → services → apps → jobs. Plain functions, no container; a test swaps a
 * piece by passing another in `overrides`. Add a capability here with one line per step.
 */

export interface Stores {
  accounts: AccountStore;
  /** The common pay (an active account) recorded and credited in one database call. */
  oneCall: OneCallCredit;
  payments: PaymentStore;
  refunds: RefundStore;
  requestLog: RequestLog;
  /** JetPay's deposits: rows of `payments`, written by src/payments only. */
  deposits: DepositStore;
  /** The audit log, to read; entries are written with `audit.record(trx, ...)` in each change's transaction. */
  audit: AuditStore;
}

export interface Services {
  billing: Billing;
  payments: PaymentService;
  refunds: RefundService;
  refundPoller: RefundPoller;
  /** null when REFUND_API_URL is not set. */
  refundApi: RefundApiClient | null;
  refundTokens: RefundTokenStore | null;
  /** null when JetPay is off (JETPAY_PROJECT_ID and JETPAY_SECRET not set). */
  jetpay: JetpayService | null;
  /** Embedded billing's accounts and orders as people change them (audited). */
  accountAdmin: AccountAdmin;
  /** The console's people, sign-in and sessions. */
  users: UserService;
  /** Kaspi's registries matched against what we hold (shared/spec/reconciliation.md). */
  reconcile: ReconcileService;
  /** null when KASPI_QR_SCHEME is not set (Kaspi QR off: its routes are 404, nothing of it runs). */
  kaspiQr: KaspiQrParts | null;
  /** Kaspi QR returns through the refunds ledger; null when KASPI_QR_SCHEME is not set. */
  qrReturns: QrReturnParts | null;
  /** Remote invoices by phone (r3; other schemes refuse them 409); null when Kaspi QR is off. */
  qrRemote: RemoteInvoices | null;
}

export interface KaspiQrParts {
  service: KaspiQrService;
  engine: KaspiQrEngine;
  /** Where every Kaspi QR call is counted (the metrics, once they exist). */
  observeCalls(fn: (method: MethodName, outcome: string) => void): void;
}

export interface QrReturnParts {
  returns: KaspiQrReturns;
  /** r2 return sessions (the payer scans a return QR); their engine is the `kaspi-qr-return-sessions` job. */
  sessions: ReturnSessions;
}

export interface Overrides {
  db?: Db;
  billing?: (stores: Stores, config: Config) => Billing;
  /** How a refund's SUCCESS reaches the billing side; the embedded one by default. */
  refundBilling?: (stores: Stores, config: Config) => RefundBilling;
  /**
   * The one call of the common pay; null sends every pay the general way (the parity tests). Off by
   * default when `billing` is given: the one call would bypass that billing.
   */
  oneCall?: (stores: Stores) => OneCallCredit | null;
}

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

/** The pool's settings from the config: size, the COMMIT retry, Galera's causal reads. */
export function dbOptions(config: Config): DbOptions {
  return {
    poolMax: config.DB_POOL_MAX,
    commitAttempts: config.DB_COMMIT_ATTEMPTS,
    ...(config.DB_WSREP_SYNC_WAIT === undefined ? {} : { wsrepSyncWait: config.DB_WSREP_SYNC_WAIT }),
  };
}

export function createStores(db: Db): Stores {
  const payments = new PaymentStore(db);
  return {
    accounts: new AccountStore(db),
    oneCall: new OneCallCredit(db),
    payments,
    refunds: new RefundStore(db),
    requestLog: new RequestLog(db),
    deposits: new DepositStore(db, payments),
    audit: new AuditStore(db),
  };
}

export function createBilling(config: Config, stores: Stores): Billing {
  if (config.BILLING_ADAPTER === 'http') {
    return new HttpBilling(
      {
        baseUrl: config.BILLING_URL as string,
        token: config.BILLING_TOKEN,
        timeoutMs: config.BILLING_TIMEOUT_MS,
        maxAttempts: config.BILLING_MAX_ATTEMPTS,
        retryBaseMs: config.BILLING_RETRY_BASE_MS,
      },
      stores.requestLog,
    );
  }
  return new SqlBilling(stores.accounts, { allowPartialOrderPayment: config.ORDER_ALLOW_PARTIAL });
}

export function createServices(config: Config, db: Db, stores: Stores, overrides: Overrides = {}): Services {
  const billing = overrides.billing?.(stores, config) ?? createBilling(config, stores);
  const payments = createPaymentService(
    {
      db,
      payments: stores.payments,
      billing,
      // The one call bypasses the billing object: a billing passed in (a test's) gets every pay.
      oneCall: overrides.oneCall ? overrides.oneCall(stores) : overrides.billing ? null : stores.oneCall,
    },
    {
      deadlineMs: config.PAY_DEADLINE_MS,
      retryBackoffMs: config.RETRY_BACKOFF_MS,
      retryBackoffMaxMs: config.RETRY_BACKOFF_MAX_MS,
      txnDateOffset: config.KASPI_TXN_DATE_OFFSET,
    },
  );
  let refundApi: RefundApiClient | null = null;
  let refundTokens: RefundTokenStore | null = null;
  if (config.REFUND_API_URL) {
    // The store fetches through the client, the client takes tokens from the store.
    refundTokens = new RefundTokenStore(db, () => (refundApi as RefundApiClient).getToken(), {
      lockMs: config.REFUND_API_TIMEOUT_MS * 2 + 5000,
      waitMs: config.REFUND_API_TIMEOUT_MS * 3 + 5000,
    });
    refundApi = new RefundApiClient(
      {
        baseUrl: config.REFUND_API_URL,
        login: config.REFUND_API_LOGIN ?? '',
        password: config.REFUND_API_PASSWORD ?? '',
        timeoutMs: config.REFUND_API_TIMEOUT_MS,
      },
      stores.requestLog,
      refundTokens,
    );
  }
  const refundBilling =
    overrides.refundBilling?.(stores, config) ?? refundBillingFor(billing, stores.accounts);
  const refunds = new RefundService(db, stores.refunds, stores.payments, refundApi, refundBilling, {
    amountUnit: config.REFUND_AMOUNT_UNIT,
    backoffMs: config.REFUND_BACKOFF_MS,
    maxAgeDays: config.REFUND_MAX_AGE_DAYS,
  });
  const kaspiQr = createKaspiQr(config, db, stores, payments);
  const qrReturns = kaspiQr ? createKaspiQrReturns(config, db, stores, kaspiQr.service) : null;
  const qrRemote = kaspiQr ? new RemoteInvoices(kaspiQr.service, new RemoteInvoiceStore(db)) : null;
  if (qrReturns) refunds.useKaspiQr(qrReturns.returns);
  const refundPoller = new RefundPoller(stores.refunds, refunds);
  return {
    qrReturns,
    billing,
    payments,
    jetpay: createJetpayService(config, stores, billing, payments),
    refunds,
    refundPoller,
    refundApi,
    refundTokens,
    accountAdmin: new AccountAdmin(db, stores.accounts),
    users: createUserService(config, db),
    reconcile: createReconcileService(config, db, stores, payments, stores.refunds),
    kaspiQr,
    qrRemote,
  };
}

/** Kaspi QR's client, service and status engine; null when KASPI_QR_SCHEME is unset. */
export function createKaspiQr(
  config: Config,
  db: Db,
  stores: Stores,
  payments: PaymentService,
): KaspiQrParts | null {
  const scheme = config.KASPI_QR_SCHEME;
  if (!scheme) return null;
  registerSecrets(config.KASPI_QR_API_KEY, config.KASPI_QR_KEY_PASSPHRASE, config.KASPI_QR_DEVICE_TOKEN);
  const baseUrl = config.KASPI_QR_BASE_URL as string;
  let onCall: ((method: MethodName, outcome: string) => void) | null = null;
  const client = new KaspiQrClient({
    onCall: (method, outcome) => onCall?.(method, outcome),
    scheme,
    baseUrl,
    apiKey: config.KASPI_QR_API_KEY,
    organizationBin: config.KASPI_QR_ORGANIZATION_BIN,
    certFile: config.KASPI_QR_CERT_FILE,
    keyFile: config.KASPI_QR_KEY_FILE,
    pfxFile: config.KASPI_QR_PFX_FILE,
    passphrase: config.KASPI_QR_KEY_PASSPHRASE,
    caFile: config.KASPI_QR_CA_FILE,
    timeoutMs: config.KASPI_QR_TIMEOUT_MS,
    testMode: config.KASPI_QR_TEST_MODE,
  });
  const service = new KaspiQrService(
    {
      db,
      client,
      store: new KaspiQrStore(db),
      attempts: new AttemptStore(db),
      awaiting: new AwaitingPayments(stores.payments, new PaymentFlags(db)),
      payments,
    },
    {
      baseUrl,
      deviceToken: config.KASPI_QR_DEVICE_TOKEN,
      tradePointId: config.KASPI_QR_TRADE_POINT_ID,
      deviceId: config.KASPI_QR_DEVICE_ID,
      timeoutMs: config.KASPI_QR_TIMEOUT_MS,
      merchantName: config.KASPI_QR_MERCHANT_NAME,
      publicBaseUrl: (config.PUBLIC_BASE_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/+$/, ''),
      minSum: config.PAY_MIN_SUM,
      maxSum: config.PAY_MAX_SUM,
      accountRegex: new RegExp(config.ACCOUNT_REGEX, 'u'),
    },
  );
  const engine = new KaspiQrEngine(service, {
    graceMs: config.KASPI_QR_DEADLINE_GRACE_MS,
    lateChecksMs: parseLateChecks(config.KASPI_QR_LATE_CHECKS) ?? [],
  });
  return {
    service,
    engine,
    observeCalls: (fn) => {
      onCall = fn;
    },
  };
}

/** The reconcile capability: profiles read and validated once, at start (a bad profile stops the start). */
export function createReconcileService(
  config: Config,
  db: Db,
  stores: Pick<Stores, 'payments'>,
  payments: PaymentService,
  refunds: RefundStore,
): ReconcileService {
  return new ReconcileService({
    db,
    store: new ReconcileStore(db),
    payments,
    paymentStore: stores.payments,
    profiles: loadProfiles(path.resolve(config.RECONCILE_PROFILES_DIR)),
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
    },
  });
}

/**
 * Kaspi QR returns (src/refunds/kaspi-qr-returns.ts, r3 and r2's money part) and r2 return sessions,
 * on Kaspi QR's own client and device token (the KaspiQrService is their port).
 */
export function createKaspiQrReturns(
  config: Config,
  db: Db,
  stores: Stores,
  port: KaspiQrPort,
): QrReturnParts {
  // The lock outlives the longest conversation: details (3 GET attempts), return, details, return, details.
  const lockHoldMs = config.KASPI_QR_TIMEOUT_MS * 12 + 30_000;
  const returns = new KaspiQrReturns(
    {
      db,
      port,
      refunds: stores.refunds,
      qrRefunds: new KaspiQrRefundStore(db),
      payments: stores.payments,
      lock: new ReturnLock(db, lockHoldMs),
      requestLog: stores.requestLog,
    },
    {
      lockHoldMs,
      lockWaitMs: config.KASPI_QR_TIMEOUT_MS * 2 + 5_000,
      recheckMs: config.REFUND_BACKOFF_MS,
    },
  );
  const sessions = new ReturnSessions(
    {
      db,
      port,
      store: new ReturnSessionStore(db),
      returns,
      refunds: stores.refunds,
      payments: stores.payments,
      requestLog: stores.requestLog,
    },
    {
      publicBaseUrl: (config.PUBLIC_BASE_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/+$/, ''),
      graceMs: config.KASPI_QR_DEADLINE_GRACE_MS,
      identifiedForMs: 10 * 60_000,
    },
  );
  return { returns, sessions };
}

export function createUserService(config: Config, db: Db): UserService {
  const sessions = new SessionStore(db, {
    idleMs: config.CONSOLE_SESSION_IDLE_MIN * 60_000,
    absoluteMs: config.CONSOLE_SESSION_MAX_HOURS * 3_600_000,
  });
  return new UserService(db, new UserStore(db), sessions);
}

function createJetpayService(
  config: Config,
  stores: Stores,
  billing: Billing,
  payments: PaymentService,
): JetpayService | null {
  if (!jetpayEnabled(config)) return null;
  return new JetpayService({
    billing,
    payments,
    store: stores.deposits,
    rules: {
      accountRegex: new RegExp(config.ACCOUNT_REGEX, 'u'),
      minSum: config.PAY_MIN_SUM,
      maxSum: config.PAY_MAX_SUM,
      allowPartialOrderPayment: config.ORDER_ALLOW_PARTIAL,
    },
    deadlineMs: config.PAY_DEADLINE_MS,
  });
}

export function createApps(config: Config, db: Db, stores: Stores, services: Services, metrics?: Metrics) {
  const publicRouters: Router[] = [];
  const adminRouters: Router[] = [
    adminAuth(config.ADMIN_API_KEY),
    adminApiRoutes({
      payments: stores.payments,
      accounts: services.billing.kind === 'sql' ? stores.accounts : null,
      accountAdmin: services.accountAdmin,
      refundsFor: (paymentId) => services.refunds.forPayment(paymentId),
      evidenceFor: (txnId) => requestLogEvidence(db, txnId),
    }),
    refundRoutes({ refunds: services.refunds }),
    auditRoutes({ audit: stores.audit }),
    reconcileRoutes({ reconcile: services.reconcile, maxFileBytes: config.RECONCILE_MAX_FILE_BYTES }),
    consoleRoutes({
      settings: {
        lang: config.CONSOLE_LANG,
        offset: config.KASPI_TXN_DATE_OFFSET,
        cookieSecure: config.CONSOLE_COOKIE_SECURE,
        stuckAfterMs: config.RETRY_STUCK_AFTER_MS,
      },
      users: services.users,
      payments: stores.payments,
      refunds: services.refunds,
      audit: stores.audit,
      queries: new ConsoleQueries(db),
      retry: { db, store: stores.payments, service: services.payments },
      accounts:
        services.billing.kind === 'sql' ? { store: stores.accounts, admin: services.accountAdmin } : null,
      evidenceFor: (txnId) => requestLogEvidence(db, txnId),
      reconcile: { service: services.reconcile, maxFileBytes: config.RECONCILE_MAX_FILE_BYTES },
      kaspiQr: services.kaspiQr
        ? {
            service: services.kaspiQr.service,
            remote: services.qrRemote,
            sessions: services.qrReturns?.sessions ?? null,
          }
        : null,
    }),
  ];
  if (services.kaspiQr) {
    const service = services.kaspiQr.service;
    adminRouters.push(kaspiQrRoutes({ service, remote: services.qrRemote }));
    if (services.qrRemote) adminRouters.push(remoteInvoiceRoutes({ service, remote: services.qrRemote }));
    // The payer's page: no auth, the path's token is a random 128-bit id.
    publicRouters.push(payPageRoutes({ service, remote: services.qrRemote }));
  }
  const qrReturns = services.qrReturns;
  if (qrReturns) {
    adminRouters.push(returnSessionRoutes({ sessions: qrReturns.sessions, refunds: services.refunds }));
    publicRouters.push(
      returnPageRoutes({ sessions: qrReturns.sessions, merchantName: config.KASPI_QR_MERCHANT_NAME }),
    );
  }
  if (services.jetpay) {
    // On the public listener, outside the Kaspi IP allowlist: JetPay is authenticated by signature.
    publicRouters.push(
      jetpayRoutes({
        service: services.jetpay,
        requestLog: stores.requestLog,
        projectId: config.JETPAY_PROJECT_ID as string,
        secret: config.JETPAY_SECRET as string,
        skipRequestSignature: config.JETPAY_SKIP_SIGNATURE,
        stuckAfterMs: config.RETRY_STUCK_AFTER_MS,
      }),
    );
  }
  const app = createApp({
    config,
    allowlist: new IpAllowlist(config.KASPI_ALLOWED_IPS),
    payments: services.payments,
    requestLog: stores.requestLog,
    metrics,
    routers: publicRouters,
  });
  const kaspiQr = services.kaspiQr;
  const adminApp = createAdminApp({
    db,
    metrics,
    routers: adminRouters,
    health: kaspiQr ? () => kaspiQr.service.health() : undefined,
  });
  // The console's cookie is `Secure` when the request came over TLS, also through a named proxy.
  adminApp.set('trust proxy', trustProxySetting(config.TRUST_PROXY));
  return { app, adminApp };
}

function databasePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** The whole service, built and migrated but not listening: start() and stop() are its lifecycle. */
export async function buildGateway(config: Config, overrides: Overrides = {}): Promise<Gateway> {
  const bad = IpAllowlist.validate(config.KASPI_ALLOWED_IPS);
  if (bad !== null) throw new ConfigError([`KASPI_ALLOWED_IPS: "${bad}" is not an IP address or CIDR`]);
  registerSecrets(
    config.JETPAY_SECRET,
    config.BILLING_TOKEN,
    config.REFUND_API_PASSWORD,
    config.ADMIN_API_KEY,
    databasePassword(config.DATABASE_URL),
  );

  const db = overrides.db ?? createDb(config.DATABASE_URL, dbOptions(config));
  await migrateLatest(db);
  const stores = createStores(db);
  const services = createServices(config, db, stores, overrides);
  const metrics = new Metrics(db, { stuckAfterMs: config.RETRY_STUCK_AFTER_MS });
  const qr = services.kaspiQr;
  if (qr) {
    const m = kaspiQrMetrics(metrics.registry, qr.service, qr.engine, services.qrRemote);
    qr.observeCalls(m.onCall);
    metrics.addDatabaseGauges(async (now) => {
      metrics.setOldestPending('kaspi_qr', (await m.refresh(now)).oldestOpenSeconds);
    });
  }
  const { app, adminApp } = createApps(config, db, stores, services, metrics);
  // A job gets the same time to wind down as a request in flight; both fit in pm2's kill_timeout.
  const scheduler = new Scheduler(db, { stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  for (const job of buildJobs({
    config,
    db,
    stores,
    services,
    qrReturnSessions: services.qrReturns?.sessions ?? null,
    qrRemote: services.qrRemote,
  }))
    scheduler.register(job);
  metrics.watchJobs(scheduler);

  const lifecycle = createLifecycle({
    config,
    db,
    ownsDb: !overrides.db,
    app,
    adminApp,
    metrics,
    scheduler,
    drainPayments: (ms) => services.payments.drain(ms),
    afterStart: services.kaspiQr ? () => (services.kaspiQr as KaspiQrParts).service.start() : undefined,
    beforeDbClose: async () => {
      if (services.billing instanceof HttpBilling) services.billing.close();
      services.refundApi?.close();
      services.kaspiQr?.service.client.close();
      await stores.requestLog.flush();
    },
  });
  return { config, db, stores, services, metrics, app, adminApp, scheduler, ...lifecycle };
}
