import type { Config } from '../config/config.js';
import { parseLateChecks } from '../config/kaspi-qr-config.js';
import type { Db } from '../db/db.js';
import { AttemptStore } from '../kaspi-qr/kaspi-qr-attempts.js';
import { KaspiQrClient } from '../kaspi-qr/kaspi-qr-client.js';
import { KaspiQrEngine } from '../kaspi-qr/kaspi-qr-engine.js';
import type { MethodName } from '../kaspi-qr/kaspi-qr-methods.js';
import { KaspiQrService } from '../kaspi-qr/kaspi-qr-service.js';
import { KaspiQrStore } from '../kaspi-qr/kaspi-qr-store.js';
import { registerSecrets } from '../log/logger.js';
import { AwaitingPayments } from '../payments/awaiting-payments.js';
import { PaymentFlags } from '../payments/payment-flags.js';
import type { PaymentService } from '../payments/payment-service.js';
import { KaspiQrRefundStore, ReturnLock } from '../refunds/kaspi-qr-refund-store.js';
import { ReturnSessions, ReturnSessionStore } from '../refunds/kaspi-qr-return-sessions.js';
import { KaspiQrReturns, type KaspiQrPort } from '../refunds/kaspi-qr-returns.js';
import type { Stores } from './stores.js';

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

/** Where payers open the pay and return pages: PUBLIC_BASE_URL, or the public listener's own address. */
function publicBaseUrl(config: Config): string {
  return (config.PUBLIC_BASE_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/+$/, '');
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
      publicBaseUrl: publicBaseUrl(config),
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
      publicBaseUrl: publicBaseUrl(config),
      graceMs: config.KASPI_QR_DEADLINE_GRACE_MS,
      identifiedForMs: 10 * 60_000,
    },
  );
  return { returns, sessions };
}
