import type { Actor } from '../audit/audit-log.js';
import { isUniqueViolation, type Db } from '../db/db.js';
import type { RequestLog } from '../http/request-log.js';
import type { KaspiQrClient } from '../kaspi-qr/kaspi-qr-client.js';
import {
  KaspiQrApiError,
  KaspiQrTransportError,
  NotSupportedBySchemeError,
} from '../kaspi-qr/kaspi-qr-errors.js';
import { paymentDetails, paymentReturn, type PaymentDetails } from '../kaspi-qr/returns-calls.js';
import { getLogger } from '../log/logger.js';
import type { PaymentStore } from '../payments/payment-store.js';
import { AppError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import { KaspiQrRefundStore, ReturnLock, type QrRefund } from './kaspi-qr-refund-store.js';
import type { Refund, RefundPatch, RefundStore } from './refund-store.js';
import { recordQrCall, sameRequest } from './kaspi-qr-return-common.js';
import { fileReturn, localReturnCheck, validateReturn } from './kaspi-qr-return-filing.js';
import { ReturnOutcomes } from './kaspi-qr-return-outcomes.js';

const log = getLogger('kaspi-qr-returns');

/** Sends of one return's payment/return at most: the first, and one more when payment/details shows it did not land. */
const MAX_SENDS = 2;

/** What the returns need of Kaspi QR: the client and the device token (KaspiQrService has both). */
export interface KaspiQrPort {
  readonly client: KaspiQrClient;
  deviceToken(): Promise<string>;
}

/** The ledger's side: moving a refund to a final status (success debits the billing, once). */
export interface RefundLedger {
  finish(refund: Refund, status: 'success' | 'declined' | 'failed', patch: RefundPatch): Promise<void>;
}

export interface QrReturnRequest {
  txnId: string;
  amount: Tiyn;
  reason: string;
  idempotencyKey?: string | null;
  createdBy: string;
  actor: Actor;
  /** r2: the identified return session the payer scanned. */
  qrReturnId?: string | null;
}

export interface KaspiQrReturnsSettings {
  /** How long a holder keeps a purchase's lock without renewing it. */
  lockHoldMs: number;
  /** How long a second return of the same purchase waits for the first before 409. */
  lockWaitMs: number;
  /** A return whose outcome could not be read yet is looked at again after this. */
  recheckMs: number;
}

/**
 * Kaspi QR returns through the refunds ledger (shared/spec/kaspi-qr.md "Returns", notes D-17):
 * the same checks, statuses, billing notice and debit as a Refund API refund, with Kaspi QR's
 * payment/details and payment/return instead of the Refund API.
 *
 * One return at a time per purchase (ReturnLock, a row in the database: across processes and
 * hosts). payment/details first: AvailableReturnAmount must cover the amount, else 422 and nothing
 * stored. Then the refund row (status `new`, with the available amount read), then payment/return.
 * An answer lost: payment/details again: dropped by the amount → success; unchanged → sent once
 * more; anything else → `fatal` for a person. The sends are counted before each call leaves, so a
 * process that died mid-call leaves a refund the poller (recover) settles the same way: never two
 * returns for one request.
 */
export class KaspiQrReturns {
  private ledger: RefundLedger | null = null;

  constructor(
    private readonly deps: {
      db: Db;
      port: KaspiQrPort;
      refunds: RefundStore;
      qrRefunds: KaspiQrRefundStore;
      payments: PaymentStore;
      lock: ReturnLock;
      requestLog: RequestLog;
    },
    private readonly settings: KaspiQrReturnsSettings,
  ) {}

  /** RefundService attaches itself: the one place a refund reaches success. */
  attach(ledger: RefundLedger): void {
    this.ledger = ledger;
  }

  private get outcomes(): ReturnOutcomes {
    return new ReturnOutcomes(this.deps, this.ledger, this.settings.recheckMs);
  }

  get scheme() {
    return this.deps.port.client.scheme;
  }

  /** r3 (and r2 once its session identified the payer): checks, stores, returns. */
  async create(input: QrReturnRequest): Promise<{ refund: Refund; created: boolean }> {
    const req = validateReturn(input);
    const scheme = this.scheme;
    if (scheme === 'r1')
      throw new NotSupportedBySchemeError(
        'payment/return',
        'r1',
        'refund it in the Kaspi Pay app, section Возврат (a cashier of the trade point does it)',
      );
    if (scheme === 'r2' && !req.qrReturnId)
      throw new NotSupportedBySchemeError(
        'payment/return',
        'r2',
        'the payer must be there: POST /api/qr/returns makes a return session whose QR the payer scans',
      );
    if (req.idempotencyKey) {
      const earlier = await this.deps.refunds.findByIdempotencyKey(req.idempotencyKey);
      if (earlier) return { refund: sameRequest(earlier, req, 'refund'), created: false };
    }
    // Refusals known here cost no lock and no Kaspi call.
    await this.deps.db.knex.transaction(async (trx) => localReturnCheck(trx, this.deps, req));

    const owner = ReturnLock.owner();
    if (!(await this.deps.lock.take(req.txnId, owner, this.settings.lockWaitMs)))
      throw new AppError(
        'return_in_progress',
        `another return of purchase ${req.txnId} is being made right now: ask again in a moment`,
        { httpStatus: 409 },
      );
    let refundId: string;
    try {
      const deviceToken = await this.deps.port.deviceToken();
      const details = await this.details(req.txnId, deviceToken);
      if (details.availableReturnAmount < req.amount)
        throw new AppError(
          'refund_exceeds_payment',
          `refund ${formatTenge(req.amount)} is above what Kaspi has left to return of purchase ${req.txnId}: ${formatTenge(details.availableReturnAmount)} of ${formatTenge(details.totalAmount)}`,
          { httpStatus: 422, details: { remaining: formatTenge(details.availableReturnAmount) } },
        );
      try {
        refundId = await this.deps.db.knex.transaction(async (trx) =>
          fileReturn(
            trx,
            this.deps,
            this.scheme,
            this.settings.lockHoldMs,
            req,
            details.availableReturnAmount,
          ),
        );
      } catch (e) {
        if (req.idempotencyKey && isUniqueViolation(e)) {
          const earlier = await this.deps.refunds.findByIdempotencyKey(req.idempotencyKey);
          if (earlier) return { refund: sameRequest(earlier, req, 'refund'), created: false };
        }
        throw e;
      }
      log.info('kaspi qr return stored', {
        refundId,
        txnId: req.txnId,
        amount: req.amount,
        availableBefore: details.availableReturnAmount,
        by: req.createdBy,
      });
      const refusal = await this.send(refundId, owner, deviceToken);
      if (refusal) throw refusal;
    } finally {
      await this.deps.lock.release(req.txnId, owner);
    }
    return { refund: (await this.deps.refunds.findById(refundId)) as Refund, created: true };
  }

  /**
   * The poller's turn at a return not settled yet (a process died mid-call, or payment/details could
   * not be read after a lost answer), or a `fatal` one a person resumed: the same check, under the lock.
   */
  async recover(refund: Refund): Promise<void> {
    const qr = await this.deps.qrRefunds.find(refund.id);
    if (!qr) {
      await this.outcomes.flag(refund, 'a Kaspi QR refund without its kaspi_qr_refunds row');
      return;
    }
    const owner = ReturnLock.owner();
    if (!(await this.deps.lock.tryTake(qr.qrPaymentId, owner))) {
      await this.outcomes.later(refund, 'another return of this purchase holds the lock');
      return;
    }
    try {
      const token = await this.deps.port.deviceToken().catch((e: unknown) => e);
      if (typeof token !== 'string')
        return await this.outcomes.later(refund, `no device token: ${message(token)}`);
      const deviceToken = token;
      if (qr.sends === 0) {
        // Stored, never sent: read what is left now (nothing of ours can have moved it) and send.
        const d = await this.details(qr.qrPaymentId, deviceToken).catch((e: unknown) => e);
        if (!isDetails(d)) return await this.outcomes.later(refund, `payment/details: ${message(d)}`);
        if (d.availableReturnAmount < refund.amount) {
          await this.ledger?.finish(refund, 'failed', {
            lastProblem: `never sent; Kaspi has ${formatTenge(d.availableReturnAmount)} left to return`,
          });
          return;
        }
        await this.deps.qrRefunds.update(refund.id, { availableBefore: d.availableReturnAmount });
        await this.send(refund.id, owner, deviceToken);
        return;
      }
      await this.check(refund.id, owner, deviceToken);
    } finally {
      await this.deps.lock.release(qr.qrPaymentId, owner);
    }
  }

  // ---- the conversation with Kaspi, under the lock ----

  /** One payment/return; a refusal Kaspi gave comes back (to be thrown by create), anything else is settled here. */
  private async send(refundId: string, owner: string, deviceToken: string): Promise<AppError | null> {
    const refund = (await this.deps.refunds.findById(refundId)) as Refund;
    const qr = (await this.deps.qrRefunds.find(refundId)) as QrRefund;
    if (!(await this.deps.lock.renew(qr.qrPaymentId, owner))) {
      // We stalled past the lock's time and another process holds the purchase now: send nothing.
      await this.outcomes.later(refund, 'lock lost before the send: left to the poller');
      return null;
    }
    await this.deps.qrRefunds.countSend(refundId);
    const started = Date.now();
    let opId: string | null;
    try {
      opId = await paymentReturn(this.deps.port.client, {
        qrPaymentId: qr.qrPaymentId,
        deviceToken,
        amount: refund.amount,
        qrReturnId: qr.qrReturnId,
      });
    } catch (e) {
      this.record('payment/return', qr.qrPaymentId, refund, started, e);
      if (e instanceof KaspiQrApiError && e.kind !== 'refund_retryable' && e.kaspiCode !== -999)
        return this.outcomes.declined(refund, e);
      if (e instanceof KaspiQrTransportError && e.sent === 'no') {
        // Provably never reached Kaspi (the client already tried again): nothing was returned.
        await this.ledger?.finish(refund, 'failed', {
          lastProblem: `not sent: ${e.message}`,
          errorMessage: e.message,
        });
        return new AppError(
          'kaspi_unreachable',
          `${e.message}: nothing was returned, refund ${refund.id} failed`,
          {
            httpStatus: 502,
          },
        );
      }
      if (!(e instanceof KaspiQrApiError) && !(e instanceof KaspiQrTransportError)) throw e;
      log.warn('kaspi qr return: answer lost or Kaspi asked to try again: reading payment/details', {
        refundId,
        txnId: qr.qrPaymentId,
        err: e,
      });
      await this.check(refundId, owner, deviceToken);
      return null;
    }
    this.record('payment/return', qr.qrPaymentId, refund, started, null, { ReturnOperationId: opId });
    await this.outcomes.succeed(refund, opId, null);
    return null;
  }

  /** After a lost answer: what payment/details says decides, never a blind resend. */
  private async check(refundId: string, owner: string, deviceToken: string): Promise<void> {
    const refund = (await this.deps.refunds.findById(refundId)) as Refund;
    const qr = (await this.deps.qrRefunds.find(refundId)) as QrRefund;
    const d = await this.details(qr.qrPaymentId, deviceToken).catch((e: unknown) => e);
    if (!isDetails(d)) return this.outcomes.later(refund, `outcome unknown, payment/details: ${message(d)}`);
    const before = qr.availableBefore;
    const now = d.availableReturnAmount;
    if (before !== null && now === before - refund.amount) {
      log.info('kaspi qr return: the lost answer had gone through (payment/details dropped by the amount)', {
        refundId,
        txnId: qr.qrPaymentId,
      });
      return this.outcomes.succeed(refund, null, 'confirmed by payment/details after a lost answer');
    }
    if (before !== null && now === before) {
      if (qr.sends < MAX_SENDS) {
        log.info('kaspi qr return: payment/details unchanged, so it did not land: sending once more', {
          refundId,
          txnId: qr.qrPaymentId,
        });
        await this.send(refundId, owner, deviceToken);
        return;
      }
      return this.outcomes.fatal(
        refund,
        `payment/return sent ${qr.sends} times and payment/details still shows ${formatTenge(now)} left: a person must look`,
      );
    }
    return this.outcomes.fatal(
      refund,
      `payment/details shows ${formatTenge(now)} left to return, neither ${before === null ? '?' : formatTenge(before)} (before) nor that less ${formatTenge(refund.amount)}: a person must look`,
    );
  }

  private async details(qrPaymentId: string, deviceToken: string): Promise<PaymentDetails> {
    const started = Date.now();
    try {
      const d = await paymentDetails(this.deps.port.client, { qrPaymentId, deviceToken });
      this.record('payment/details', qrPaymentId, null, started, null, {
        TotalAmount: formatTenge(d.totalAmount),
        AvailableReturnAmount: formatTenge(d.availableReturnAmount),
      });
      return d;
    } catch (e) {
      this.record('payment/details', qrPaymentId, null, started, e);
      throw e;
    }
  }

  private record(
    command: string,
    qrPaymentId: string,
    refund: Refund | null,
    started: number,
    err: unknown,
    answer?: Record<string, unknown>,
  ): void {
    const request = JSON.stringify({
      QrPaymentId: qrPaymentId,
      ...(refund ? { Amount: formatTenge(refund.amount), refundId: refund.id } : {}),
    });
    recordQrCall(this.deps.requestLog, { command, txnId: qrPaymentId, started, err, request, answer });
  }
}

function isDetails(v: unknown): v is PaymentDetails {
  return v !== null && typeof v === 'object' && 'availableReturnAmount' in v;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
