import type { Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import type { AwaitingPayments } from '../payments/awaiting-payments.js';
import type { PaymentService } from '../payments/payment-service.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import type { Tiyn } from '../shared/money.js';
import type { AttemptStore } from './kaspi-qr-attempts.js';
import {
  deleteDevice,
  ping,
  purchaseStatus,
  registerDevice,
  testEmulate,
  tradePoints,
  type TestAction,
  type TradePoint,
} from './kaspi-qr-calls.js';
import type { KaspiQrClient } from './kaspi-qr-client.js';
import { KaspiQrApiError, KaspiQrTransportError, KaspiQrUnavailableError } from './kaspi-qr-errors.js';
import { createQrPurchase, type CreateRequest } from './kaspi-qr-create.js';
import { PaidCheck } from './paid-check.js';
import type { KaspiQrStore, PurchaseFilter, PurchaseWithPayment } from './kaspi-qr-store.js';
import type { CertInfo } from './kaspi-qr-tls.js';

// Callers (routes, the CLI, the console) import them from here, as before the split.
export { CreateOutcomeUnknownError, type CreateRequest } from './kaspi-qr-create.js';

const log = getLogger('kaspi-qr');

export interface KaspiQrSettings {
  baseUrl: string;
  /** KASPI_QR_DEVICE_TOKEN: wins over a stored one. */
  deviceToken?: string;
  /** Both set: registered at start when no token is known (device/register is idempotent). */
  tradePointId?: string;
  deviceId?: string;
  timeoutMs: number;
  merchantName: string;
  /** Origin of the pay pages, no trailing slash. */
  publicBaseUrl: string;
  minSum: Tiyn;
  maxSum: Tiyn;
  accountRegex: RegExp;
}

export interface KaspiQrDeps {
  db: Db;
  client: KaspiQrClient;
  store: KaspiQrStore;
  attempts: AttemptStore;
  awaiting: AwaitingPayments;
  payments: PaymentService;
}

/** What /healthz says of Kaspi QR (200 either way: check/pay go on without it). */
export type KaspiQrHealth = 'ok' | 'tls_failed' | 'auth_failed' | 'unreachable' | 'not_checked';

export const PAUSE_STATE = 'engine_pause';

/**
 * Kaspi QR purchases (QR code or link): the account asked of the billing first, the attempt
 * written before the call leaves, the purchase stored as an `awaiting_payment` payment through
 * src/payments with its QR details beside it. Devices, trade points, ping and the test emulation
 * for the CLI. The status engine (kaspi-qr-engine.ts) follows what is created here.
 */
export class KaspiQrService {
  private tlsState: KaspiQrHealth = 'not_checked';
  private tlsReason: string | null = null;
  /** The post-payment check (payment/details once on paid, r2/r3): the engine and remote invoices share it. */
  readonly paidCheck: PaidCheck = new PaidCheck(this);

  constructor(
    readonly deps: KaspiQrDeps,
    readonly settings: KaspiQrSettings,
  ) {}

  get client(): KaspiQrClient {
    return this.deps.client;
  }

  // ---- start, certificate, health ----

  /**
   * At start: the certificate logged, one health/ping (a refused handshake is an ERROR naming the
   * file and the reason), and the device registered when configured and no token is known. Never
   * throws: check/pay must start without Kaspi QR.
   */
  async start(now = new Date()): Promise<void> {
    this.logCertificate(now, 'start');
    try {
      await ping(this.client);
      this.tlsState = 'ok';
      this.tlsReason = null;
    } catch (e) {
      this.noteFailure(e, 'health/ping at start');
    }
    if (this.tlsState !== 'ok') return;
    try {
      if (!(await this.knownDeviceToken()) && this.settings.tradePointId && this.settings.deviceId) {
        await this.registerDevice(this.settings.tradePointId, this.settings.deviceId);
        log.info('kaspi qr: device registered at start', {
          deviceId: this.settings.deviceId,
          tradePointId: this.settings.tradePointId,
        });
      }
    } catch (e) {
      log.error('kaspi qr: device registration at start failed', { err: e });
    }
  }

  /** Subject, issuer and expiry; a WARN from 30 days before the expiry. */
  logCertificate(now: Date, why: 'start' | 'reload' | 'daily'): CertInfo | null {
    const c = this.client.certificate;
    if (!c) return null;
    const days = Math.floor((c.validTo.getTime() - now.getTime()) / 86_400_000);
    const fields = {
      file: c.file,
      subject: c.subject,
      issuer: c.issuer,
      validTo: c.validTo.toISOString(),
      daysLeft: days,
    };
    if (why !== 'daily') log.info(`kaspi qr: client certificate (${why})`, fields);
    if (days < 0) log.error('kaspi qr: the client certificate has EXPIRED: Kaspi will refuse us', fields);
    else if (days <= 30)
      log.warn('kaspi qr: the client certificate expires within 30 days: order a new one', fields);
    return c;
  }

  /** SIGHUP: the files again; a bad new file keeps the old agent and says why. */
  reloadCertificates(now = new Date()): boolean {
    try {
      this.client.reload();
      this.logCertificate(now, 'reload');
      this.tlsState = 'not_checked';
      return true;
    } catch (e) {
      log.error('kaspi qr: certificate files not reloaded: the old ones stay in use', { err: e });
      return false;
    }
  }

  async health(): Promise<{ kaspi_qr: KaspiQrHealth; reason?: string }> {
    const paused = await this.deps.store.getState(PAUSE_STATE).catch(() => null);
    if (paused === 'auth_failed') return { kaspi_qr: 'auth_failed' };
    return this.tlsReason ? { kaspi_qr: this.tlsState, reason: this.tlsReason } : { kaspi_qr: this.tlsState };
  }

  /** Notes a failed call: a refused handshake or a refused credential shows in /healthz. */
  noteFailure(e: unknown, what: string): void {
    if (e instanceof KaspiQrTransportError && e.reason === 'tls') {
      this.tlsState = 'tls_failed';
      this.tlsReason = e.message;
      log.error(`kaspi qr: TLS handshake refused (${what})`, {
        file: this.client.certFile,
        reason: e.message,
      });
    } else if (e instanceof KaspiQrApiError && e.kind === 'auth_config') {
      this.tlsState = 'auth_failed';
      this.tlsReason = e.message;
      log.error(`kaspi qr: Kaspi refused our credentials (${what})`, {
        file: this.client.certFile,
        code: e.kaspiCode,
      });
    } else if (e instanceof KaspiQrTransportError) {
      this.tlsState = 'unreachable';
      this.tlsReason = e.message;
      log.warn(`kaspi qr: not reachable (${what})`, { reason: e.message });
    } else {
      log.warn(`kaspi qr: ${what} failed`, { err: e });
    }
  }

  noteOk(): void {
    this.tlsState = 'ok';
    this.tlsReason = null;
  }

  // ---- devices ----

  private async knownDeviceToken(): Promise<string | null> {
    if (this.settings.deviceToken) return this.settings.deviceToken;
    return (await this.deps.store.activeDevice(this.settings.baseUrl))?.deviceToken ?? null;
  }

  async deviceToken(): Promise<string> {
    const t = await this.knownDeviceToken();
    if (!t)
      throw new KaspiQrUnavailableError(
        'kaspi_qr_no_device',
        'no Kaspi QR device: run `qr device register --trade-point <id> --device-id <id>` or set KASPI_QR_DEVICE_TOKEN',
      );
    return t;
  }

  async tradePoints(): Promise<TradePoint[]> {
    return tradePoints(this.client);
  }

  /** device/register (idempotent at Kaspi) and the token stored as the active device. */
  async registerDevice(tradePointId: string, deviceId: string): Promise<string> {
    if (!/^\d{1,19}$/.test(tradePointId)) throw new ValidationError('trade point id must be digits');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(deviceId))
      throw new ValidationError('device id: only Latin letters, digits, dash and underscore');
    const token = await registerDevice(this.client, deviceId, tradePointId);
    await this.deps.store.saveDevice(this.settings.baseUrl, deviceId, tradePointId, token);
    return token;
  }

  async deleteDevice(): Promise<void> {
    const token = await this.deviceToken();
    await deleteDevice(this.client, token);
    await this.deps.store.deactivateDevices(this.settings.baseUrl);
  }

  async ping(): Promise<void> {
    try {
      await ping(this.client);
      this.noteOk();
    } catch (e) {
      this.noteFailure(e, 'health/ping');
      throw e;
    }
  }

  async testEmulate(action: TestAction, qrPaymentId: string): Promise<string> {
    if (!/^\d{1,19}$/.test(qrPaymentId)) throw new ValidationError('qrPaymentId must be digits');
    return testEmulate(this.client, action, qrPaymentId);
  }

  async status(qrPaymentId: string): Promise<string> {
    return purchaseStatus(this.client, qrPaymentId);
  }

  // ---- purchases ----

  /**
   * A QR or link purchase (kaspi-qr-create.ts): the same Idempotency-Key with the same body answers
   * the same purchase (created false); another body 409; a lost answer is never re-sent.
   */
  async create(req: CreateRequest): Promise<{ purchase: PurchaseWithPayment; created: boolean }> {
    return createQrPurchase(this, req);
  }

  async get(id: string): Promise<PurchaseWithPayment> {
    const p = await this.deps.store.byPaymentId(id);
    if (!p) throw new NotFoundError('purchase', 'no Kaspi QR purchase with this id');
    return p;
  }

  async list(f: PurchaseFilter): Promise<PurchaseWithPayment[]> {
    return this.deps.store.list(f);
  }

  async byPayToken(token: string): Promise<PurchaseWithPayment | null> {
    return this.deps.store.byPayToken(token);
  }

  payUrl(p: { payToken: string }): string {
    return `${this.settings.publicBaseUrl}/pay/${p.payToken}`;
  }
}
