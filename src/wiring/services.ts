import { AccountAdmin } from '../billing/account-admin.js';
import type { Billing } from '../billing/billing.js';
import { HttpBilling } from '../billing/http-billing.js';
import { SqlBilling } from '../billing/sql-billing.js';
import { jetpayEnabled, type Config } from '../config/config.js';
import { SessionStore } from '../console/session-store.js';
import { UserService } from '../console/user-service.js';
import { UserStore } from '../console/user-store.js';
import type { Db } from '../db/db.js';
import { JetpayService } from '../jetpay/jetpay-service.js';
import { RemoteInvoices } from '../kaspi-qr/remote-invoice.js';
import { RemoteInvoiceStore } from '../kaspi-qr/remote-invoice-store.js';
import { createPaymentService, type PaymentService } from '../payments/payment-service.js';
import type { OneCallCredit } from '../payments/record-and-credit/one-call.js';
import type { RefundApiClient } from '../refunds/refund-api-client.js';
import type { RefundBilling } from '../refunds/refund-billing.js';
import { RefundPoller } from '../refunds/refund-poller.js';
import type { RefundService } from '../refunds/refund-service.js';
import type { RefundTokenStore } from '../refunds/refund-token-store.js';
import type { ReconcileService } from '../reconcile/reconcile-service.js';
import { createKaspiQr, createKaspiQrReturns, type KaspiQrParts, type QrReturnParts } from './kaspi-qr.js';
import { createReconcileService } from './reconcile.js';
import { createRefunds } from './refunds.js';
import type { Stores } from './stores.js';

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

/** The pay path's one service, chosen by BILLING_ADAPTER (src/payments/payment-service.ts). */
function createPayments(config: Config, db: Db, stores: Stores, billing: Billing, overrides: Overrides) {
  return createPaymentService(
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
}

export function createServices(config: Config, db: Db, stores: Stores, overrides: Overrides = {}): Services {
  const billing = overrides.billing?.(stores, config) ?? createBilling(config, stores);
  const payments = createPayments(config, db, stores, billing, overrides);
  const { refunds, refundApi, refundTokens } = createRefunds(
    config,
    db,
    stores,
    billing,
    overrides.refundBilling?.(stores, config),
  );
  const kaspiQr = createKaspiQr(config, db, stores, payments);
  const qrReturns = kaspiQr ? createKaspiQrReturns(config, db, stores, kaspiQr.service) : null;
  const qrRemote = kaspiQr ? new RemoteInvoices(kaspiQr.service, new RemoteInvoiceStore(db)) : null;
  if (qrReturns) refunds.useKaspiQr(qrReturns.returns);
  return {
    qrReturns,
    billing,
    payments,
    jetpay: createJetpayService(config, stores, billing, payments),
    refunds,
    refundPoller: new RefundPoller(stores.refunds, refunds),
    refundApi,
    refundTokens,
    accountAdmin: new AccountAdmin(db, stores.accounts),
    users: createUserService(config, db),
    reconcile: createReconcileService(config, db, stores, payments, stores.refunds, refunds),
    kaspiQr,
    qrRemote,
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
