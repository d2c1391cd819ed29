import type { Express, Router } from 'express';
import { createAdminApp } from '../admin/admin-app.js';
import { adminApiRoutes } from '../admin/admin-api-routes.js';
import { adminAuth } from '../admin/admin-auth.js';
import { createApp } from '../app.js';
import { auditRoutes } from '../audit/audit-routes.js';
import type { Config } from '../config/config.js';
import { consoleRoutes } from '../console/console-routes.js';
import { ConsoleQueries } from '../console/console-queries.js';
import type { Db } from '../db/db.js';
import { IpAllowlist, trustProxySetting } from '../http/ip-allowlist.js';
import { requestLogEvidence } from '../http/request-log-evidence.js';
import { jetpayRoutes } from '../jetpay/jetpay-routes.js';
import { kaspiQrRoutes } from '../kaspi-qr/kaspi-qr-routes.js';
import { payPageRoutes } from '../kaspi-qr/pay-page.js';
import { remoteInvoiceRoutes } from '../kaspi-qr/remote-invoice-routes.js';
import type { Metrics } from '../metrics/metrics.js';
import { reconcileRoutes } from '../reconcile/reconcile-routes.js';
import { returnPageRoutes, returnSessionRoutes } from '../refunds/kaspi-qr-return-routes.js';
import { refundRoutes } from '../refunds/refund-routes.js';
import type { Services } from './services.js';
import type { Stores } from './stores.js';

/** What the admin listener serves: the API (Bearer), the console, and each capability's admin routes. */
function adminRouters(config: Config, db: Db, stores: Stores, services: Services): Router[] {
  const routers: Router[] = [
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
    routers.push(kaspiQrRoutes({ service, remote: services.qrRemote }));
    if (services.qrRemote) routers.push(remoteInvoiceRoutes({ service, remote: services.qrRemote }));
  }
  if (services.qrReturns)
    routers.push(returnSessionRoutes({ sessions: services.qrReturns.sessions, refunds: services.refunds }));
  return routers;
}

/** What the public listener serves beside Kaspi's check/pay: the payer's pages and JetPay. */
function publicRouters(config: Config, stores: Stores, services: Services): Router[] {
  const routers: Router[] = [];
  if (services.kaspiQr) {
    // The payer's page: no auth, the path's token is a random 128-bit id.
    routers.push(payPageRoutes({ service: services.kaspiQr.service, remote: services.qrRemote }));
  }
  if (services.qrReturns) {
    routers.push(
      returnPageRoutes({
        sessions: services.qrReturns.sessions,
        merchantName: config.KASPI_QR_MERCHANT_NAME,
      }),
    );
  }
  if (services.jetpay) {
    // On the public listener, outside the Kaspi IP allowlist: JetPay is authenticated by signature.
    routers.push(
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
  return routers;
}

/** Both Express apps, built without listening (src/wiring/lifecycle.ts listens). */
export function createApps(
  config: Config,
  db: Db,
  stores: Stores,
  services: Services,
  metrics?: Metrics,
): { app: Express; adminApp: Express } {
  const app = createApp({
    config,
    allowlist: new IpAllowlist(config.KASPI_ALLOWED_IPS),
    payments: services.payments,
    requestLog: stores.requestLog,
    metrics,
    routers: publicRouters(config, stores, services),
  });
  const kaspiQr = services.kaspiQr;
  const adminApp = createAdminApp({
    db,
    metrics,
    routers: adminRouters(config, db, stores, services),
    health: kaspiQr ? () => kaspiQr.service.health() : undefined,
  });
  // The console's cookie is `Secure` when the request came over TLS, also through a named proxy.
  adminApp.set('trust proxy', trustProxySetting(config.TRUST_PROXY));
  return { app, adminApp };
}
