import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Express, Router } from 'express';
import { createAdminApp, createMetricsApp } from './admin/admin-app.js';
import { adminApiRoutes } from './admin/admin-api-routes.js';
import { adminAuth } from './admin/admin-auth.js';
import { AuditStore } from './audit/audit-log.js';
import { auditRoutes } from './audit/audit-routes.js';
import { AccountAdmin } from './billing/account-admin.js';
import { createApp } from './app.js';
import { AccountStore } from './billing/account-store.js';
import type { Billing } from './billing/billing.js';
import { HttpBilling } from './billing/http-billing.js';
import { OneCallCredit } from './billing/one-call-credit.js';
import { SqlBilling } from './billing/sql-billing.js';
import { ConfigError, jetpayEnabled, loadConfig, type Config } from './config/config.js';
import { SessionStore } from './console/session-store.js';
import { UserService } from './console/user-service.js';
import { UserStore } from './console/user-store.js';
import { createDb, type Db } from './db/db.js';
import { migrateLatest } from './db/migrate.js';
import { IpAllowlist } from './http/ip-allowlist.js';
import { Listener, type ListenOptions } from './http/listener.js';
import { RequestLog } from './http/request-log.js';
import { requestLogEvidence } from './http/request-log-evidence.js';
import { jetpayRoutes } from './jetpay/jetpay-routes.js';
import { JetpayService } from './jetpay/jetpay-service.js';
import { JetpayStore } from './jetpay/jetpay-store.js';
import { buildJobs } from './jobs/jobs.js';
import { Scheduler } from './jobs/scheduler.js';
import { configureLogger, getLogger, registerSecrets } from './log/logger.js';
import { Metrics } from './metrics/metrics.js';
import { parseTenge } from './payments/money.js';
import { PaymentService } from './payments/payment-service.js';
import { PaymentStore } from './payments/payment-store.js';
import { RefundApiClient } from './refunds/refund-api-client.js';
import { refundBillingFor, type RefundBilling } from './refunds/refund-billing.js';
import { RefundPoller } from './refunds/refund-poller.js';
import { refundRoutes } from './refunds/refund-routes.js';
import { RefundService } from './refunds/refund-service.js';
import { RefundStore } from './refunds/refund-store.js';
import { RefundTokenStore } from './refunds/refund-token-store.js';

/**
 * The composition root: config → db → stores → services → apps → jobs. Plain functions, no
 * container; a test swaps a piece by passing another in `overrides`.
 */

export interface Stores {
  accounts: AccountStore;
  /** The common pay (an active account) recorded and credited in one database call. */
  oneCall: OneCallCredit;
  payments: PaymentStore;
  refunds: RefundStore;
  requestLog: RequestLog;
  jetpay: JetpayStore;
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
}

export interface Overrides {
  db?: Db;
  billing?: (stores: Stores, config: Config) => Billing;
  /** How a refund's SUCCESS reaches the billing side; the embedded one by default. */
  refundBilling?: (stores: Stores, config: Config) => RefundBilling;
}

export interface Gateway {
  config: Config;
  db: Db;
  stores: Stores;
  services: Services;
  metrics: Metrics;
  app: Express;
  adminApp: Express;
  /** Every job of src/jobs/jobs.ts is registered; crons run only after start() (tests use runNow). */
  scheduler: Scheduler;
  /**
   * Listens on PORT and ADMIN_PORT (0 = any free port), and METRICS_PORT when set, and starts the
   * crons (unless `jobs: false`); resolves with the bound ports.
   */
  start(opts?: { jobs?: boolean }): Promise<{ port: number; adminPort: number; metricsPort?: number }>;
  /**
   * Stops taking connections, lets in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), stops
   * jobs, flushes the request log, closes the pool. Safe to call more than once.
   */
  stop(): Promise<void>;
}

export function createStores(db: Db): Stores {
  const payments = new PaymentStore(db);
  return {
    accounts: new AccountStore(db),
    oneCall: new OneCallCredit(db),
    payments,
    refunds: new RefundStore(db),
    requestLog: new RequestLog(db),
    jetpay: new JetpayStore(db, payments),
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
  return new SqlBilling(stores.accounts, {
    allowPartialOrderPayment: config.ORDER_ALLOW_PARTIAL,
    oneCall: stores.oneCall,
  });
}

export function createServices(config: Config, db: Db, stores: Stores, overrides: Overrides = {}): Services {
  const billing = overrides.billing?.(stores, config) ?? createBilling(config, stores);
  const payments = new PaymentService(db, stores.payments, billing, {
    deadlineMs: config.PAY_DEADLINE_MS,
    retryBackoffMs: config.RETRY_BACKOFF_MS,
    retryBackoffMaxMs: config.RETRY_BACKOFF_MAX_MS,
    txnDateOffset: config.KASPI_TXN_DATE_OFFSET,
  });
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
  const refunds = new RefundService(db, stores.refunds, refundApi, refundBilling, {
    amountUnit: config.REFUND_AMOUNT_UNIT,
    backoffMs: config.REFUND_BACKOFF_MS,
    maxAgeDays: config.REFUND_MAX_AGE_DAYS,
  });
  const refundPoller = new RefundPoller(stores.refunds, refunds);
  return {
    billing,
    payments,
    jetpay: createJetpayService(config, stores, billing, payments),
    refunds,
    refundPoller,
    refundApi,
    refundTokens,
    accountAdmin: new AccountAdmin(db, stores.accounts),
    users: createUserService(config, db),
  };
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
    store: stores.jetpay,
    rules: {
      accountRegex: new RegExp(config.ACCOUNT_REGEX, 'u'),
      minSum: config.PAY_MIN_SUM,
      maxSum: config.PAY_MAX_SUM,
      allowPartialOrderPayment: config.ORDER_ALLOW_PARTIAL,
    },
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
  ];
  if (services.jetpay) {
    // On the public listener, outside the Kaspi IP allowlist: JetPay is authenticated by signature.
    publicRouters.push(
      jetpayRoutes({
        service: services.jetpay,
        requestLog: stores.requestLog,
        projectId: config.JETPAY_PROJECT_ID as string,
        secret: config.JETPAY_SECRET as string,
        skipRequestSignature: config.JETPAY_SKIP_SIGNATURE,
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
  const adminApp = createAdminApp({ db, metrics, routers: adminRouters });
  return { app, adminApp };
}

/**
 * Under pm2 each worker of an app has its own number, 0..instances-1 (NODE_APP_INSTANCE; not pm_id,
 * which grows across apps and restarts): its metrics port is METRICS_PORT + that.
 */
export function workerNumber(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.NODE_APP_INSTANCE ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

function databasePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

const log = getLogger('main');
/**
 * After the drain: credits finishing in the background, the request log's last entries and the pool
 * get this long (pm2's kill_timeout covers it). A credit still going then stays pending in the
 * database, and the retry job sends it again with the same idempotency key.
 */
const CLOSE_DATABASE_TIMEOUT_MS = 5000;

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

  const db = overrides.db ?? createDb(config.DATABASE_URL, { poolMax: config.DB_POOL_MAX });
  await migrateLatest(db);
  const stores = createStores(db);
  const services = createServices(config, db, stores, overrides);
  const metrics = new Metrics(db, { stuckAfterMs: config.RETRY_STUCK_AFTER_MS });
  const { app, adminApp } = createApps(config, db, stores, services, metrics);
  // A job gets the same time to wind down as a request in flight; both fit in pm2's kill_timeout.
  const scheduler = new Scheduler(db, { stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  for (const job of buildJobs({ config, db, stores, services })) scheduler.register(job);
  metrics.watchJobs(scheduler);

  const listeners: Listener[] = [];
  const listenOptions = (port: number, host: string): ListenOptions => ({
    port,
    host,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEPALIVE_TIMEOUT_MS,
  });
  let stopping: Promise<void> | undefined;

  const stopNow = async () => {
    const started = Date.now();
    // Requests drain and jobs wind down side by side: neither needs the other, and both are bounded.
    const [drained] = await Promise.all([
      Promise.all(listeners.map((l) => l.close(config.SHUTDOWN_TIMEOUT_MS))),
      scheduler.stop(),
    ]);
    const cut = drained.reduce((n, c) => n + c.cut, 0);
    if (cut > 0)
      log.error('requests cut at shutdown: check their payments', {
        cut,
        timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      });
    // A frozen database must not hold the exit past pm2's kill_timeout: an open transaction is rolled
    // back by the server when its connection goes, and the payment is answered on Kaspi's repeat.
    const closing = (async () => {
      // Pays answered 4 at the deadline may still be finishing their credit: let them, then close.
      await services.payments.drain(CLOSE_DATABASE_TIMEOUT_MS - 500);
      if (services.billing instanceof HttpBilling) services.billing.close();
      await stores.requestLog.flush();
      if (!overrides.db) await db.close();
    })();
    const closed = await Promise.race([
      closing.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), CLOSE_DATABASE_TIMEOUT_MS).unref()),
    ]);
    if (!closed)
      log.warn('not everything closed in time: exiting anyway; the retry job finishes pending credits', {
        ms: CLOSE_DATABASE_TIMEOUT_MS,
      });
    log.info('stopped', { ms: Date.now() - started });
  };

  return {
    config,
    db,
    stores,
    services,
    metrics,
    app,
    adminApp,
    scheduler,
    async start(opts = {}) {
      const pub = await Listener.listen(app, {
        ...listenOptions(config.PORT, config.HOST),
        tls:
          config.TLS_CERT_FILE && config.TLS_KEY_FILE
            ? { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE }
            : undefined,
      });
      listeners.push(pub);
      const admin = await Listener.listen(adminApp, listenOptions(config.ADMIN_PORT, config.ADMIN_HOST));
      listeners.push(admin);
      let metricsPort: number | undefined;
      if (config.METRICS_PORT !== undefined) {
        const port = config.METRICS_PORT === 0 ? 0 : config.METRICS_PORT + workerNumber();
        const m = await Listener.listen(createMetricsApp(metrics), listenOptions(port, config.ADMIN_HOST));
        listeners.push(m);
        metricsPort = m.port;
      }
      if (opts.jobs !== false) scheduler.start();
      return { port: pub.port, adminPort: admin.port, metricsPort };
    },
    stop() {
      stopping ??= stopNow();
      return stopping;
    },
  };
}

const DEMO_ACCOUNTS = [
  { account: '7770000001', name: 'Ivan Petrov', balance: '1500.00' },
  { account: '7770000002', name: 'Айгуль Нурланова', balance: '0.00' },
  { account: '7770000003', name: 'School No. 7 Canteen', balance: '250.50' },
];

async function seedDemo(g: Gateway, port: number): Promise<void> {
  for (const a of DEMO_ACCOUNTS) {
    if (!(await g.stores.accounts.getAccount(a.account))) {
      await g.stores.accounts.addAccount({
        account: a.account,
        name: a.name,
        balance: parseTenge(a.balance) ?? 0,
      });
    }
  }
  if (!(await g.stores.accounts.getOrder('ORD-1001'))) {
    await g.stores.accounts.addOrder({
      number: 'ORD-1001',
      amount: 450000,
      account: '7770000001',
      description: 'Invoice 1001',
    });
  }
  const base = `http://127.0.0.1:${port}${g.config.KASPI_PATH}`;
  const when = new Date(Date.now() + 5 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
  // A fresh txn_id each start, so the printed pay credits instead of replaying an earlier one.
  const txn = String(Date.now()).slice(-9);
  process.stdout.write(
    [
      '',
      `Demo accounts: ${DEMO_ACCOUNTS.map((a) => a.account).join(', ')}; demo order ORD-1001 (4500.00).`,
      'Try them:',
      `  curl '${base}?command=check&txn_id=${txn}&account=7770000001&sum=200.00'`,
      `  curl '${base}?command=pay&txn_id=${txn}&account=7770000001&sum=200.00&txn_date=${when}'`,
      `  npm run cli -- accounts show 7770000001`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`Refusing to start: ${e.message}\n`);
      process.exit(78);
    }
    throw e;
  }
  configureLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const gateway = await buildGateway(config);
  gateway.metrics.collectProcessMetrics();
  const { port, adminPort, metricsPort } = await gateway.start();
  log.info('gateway listening', {
    public: `${config.TLS_CERT_FILE ? 'https' : 'http'}://${config.HOST}:${port}`,
    admin: `${config.ADMIN_HOST}:${adminPort}`,
    metrics: metricsPort === undefined ? undefined : `${config.ADMIN_HOST}:${metricsPort}`,
    database: gateway.db.describe,
    billing: config.BILLING_ADAPTER,
    jetpay: jetpayEnabled(config) ? 'on' : 'off',
    env: config.NODE_ENV,
  });
  if (config.SEED_DEMO_ACCOUNTS) await seedDemo(gateway, port);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C means "now": the person at the terminal has decided.
      if (signal === 'SIGINT' && !process.send) process.exit(130);
      return;
    }
    stopping = true;
    log.info('stopping: draining requests in flight', { signal });
    gateway
      .stop()
      .then(() => exitSoon(0))
      .catch((e: unknown) => {
        log.error('unclean stop', { err: e });
        exitSoon(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // pm2 with shutdown_with_message (Windows has no signals) asks with a message instead.
  process.on('message', (msg) => {
    if (msg === 'shutdown') shutdown('shutdown message');
  });
  // pm2 (wait_ready) sends this worker traffic, and stops the old one on reload, only after this.
  process.send?.('ready');
}

/** Exits once the log lines above have left (stdout to a pipe is asynchronous), at most 1 s later. */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
}

/** `node dist/src/main.js`, and pm2, whose cluster workers run its container with our path in pm_exec_path. */
function isEntryPoint(): boolean {
  const self = fileURLToPath(import.meta.url);
  const entry = process.env.pm_exec_path ?? process.argv[1];
  return entry !== undefined && (self === entry || import.meta.url === pathToFileURL(entry).href);
}

if (isEntryPoint()) {
  main().catch((e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`Refusing to start: ${e.message}\n`);
      process.exit(78);
    }
    log.error('failed to start', { err: e });
    process.exit(1);
  });
}
