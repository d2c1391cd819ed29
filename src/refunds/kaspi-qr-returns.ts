import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { audit, type Actor } from '../audit/audit-log.js';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import type { RequestLog } from '../http/request-log.js';
import type { KaspiQrClient } from '../kaspi-qr/kaspi-qr-client.js';
import {
  KaspiQrApiError,
  KaspiQrTransportError,
  NotSupportedBySchemeError,
} from '../kaspi-qr/kaspi-qr-errors.js';
import { paymentDetails, paymentReturn, type PaymentDetails } from '../kaspi-qr/returns-calls.js';
import { getLogger } from '../log/logger.js';
import type { Payment, PaymentStore } from '../payments/payment-store.js';
import { AppError, ConflictError } from '../shared/errors.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import { KaspiQrRefundStore, ReturnLock, type QrRefund } from './kaspi-qr-refund-store.js';
import {
  PENDING_STATUSES,
  type Refund,
  type RefundPatch,
  type RefundStatus,
  type RefundStore,
} from './refund-store.js';
import { QR_PAYMENT_ID, readRefundInput } from './refund-input.js';

const log = getLogger('kaspi-qr-returns');

/** Sends of one return's payment/return at most: the first, and one more when payment/details shows it did not land. */
const MAX_SENDS = 2;
const MOVABLE: readonly RefundStatus[] = [...PENDING_STATUSES, 'fatal'];

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

/** A refusal Kaspi gave to payment/return, as our API answers it (the refund is stored as declined). */
const KASPI_REFUSALS: Record<string, { status: number; text: string }> = {
  refund_exceeds_available: { status: 422, text: 'the amount is above what is left to return at Kaspi' },
  partial_refund_not_allowed: {
    status: 422,
    text: 'Kaspi does not allow a partial return of this purchase: return it in full',
  },
  refund_not_allowed_state: { status: 409, text: 'Kaspi says the purchase cannot be returned in its state' },
  device_mismatch: {
    status: 502,
    text: "the purchase belongs to another trade point than this device's: return it from a device of that trade point",
  },
};

const int32 = (n: number) => (n >= -2147483648 && n <= 2147483647 ? n : null);

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

  get scheme() {
    return this.deps.port.client.scheme;
  }

  /** r3 (and r2 once its session identified the payer): checks, stores, returns. */
  async create(input: QrReturnRequest): Promise<{ refund: Refund; created: boolean }> {
    const req = this.validate(input);
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
      if (earlier) return { refund: sameOrConflict(earlier, req), created: false };
    }
    // Refusals known here cost no lock and no Kaspi call.
    await this.deps.db.knex.transaction(async (trx) => this.localCheck(trx, req));

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
          this.insert(trx, req, details.availableReturnAmount),
        );
      } catch (e) {
        if (req.idempotencyKey && isUniqueViolation(e)) {
          const earlier = await this.deps.refunds.findByIdempotencyKey(req.idempotencyKey);
          if (earlier) return { refund: sameOrConflict(earlier, req), created: false };
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
      await this.flag(refund, 'a Kaspi QR refund without its kaspi_qr_refunds row');
      return;
    }
    const owner = ReturnLock.owner();
    if (!(await this.deps.lock.tryTake(qr.qrPaymentId, owner))) {
      await this.later(refund, 'another return of this purchase holds the lock');
      return;
    }
    try {
      const token = await this.deps.port.deviceToken().catch((e: unknown) => e);
      if (typeof token !== 'string') return await this.later(refund, `no device token: ${message(token)}`);
      const deviceToken = token;
      if (qr.sends === 0) {
        // Stored, never sent: read what is left now (nothing of ours can have moved it) and send.
        const d = await this.details(qr.qrPaymentId, deviceToken).catch((e: unknown) => e);
        if (!isDetails(d)) return await this.later(refund, `payment/details: ${message(d)}`);
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
      await this.later(refund, 'lock lost before the send: left to the poller');
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
        return this.declined(refund, e);
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
    await this.succeed(refund, opId, null);
    return null;
  }

  /** After a lost answer: what payment/details says decides, never a blind resend. */
  private async check(refundId: string, owner: string, deviceToken: string): Promise<void> {
    const refund = (await this.deps.refunds.findById(refundId)) as Refund;
    const qr = (await this.deps.qrRefunds.find(refundId)) as QrRefund;
    const d = await this.details(qr.qrPaymentId, deviceToken).catch((e: unknown) => e);
    if (!isDetails(d)) return this.later(refund, `outcome unknown, payment/details: ${message(d)}`);
    const before = qr.availableBefore;
    const now = d.availableReturnAmount;
    if (before !== null && now === before - refund.amount) {
      log.info('kaspi qr return: the lost answer had gone through (payment/details dropped by the amount)', {
        refundId,
        txnId: qr.qrPaymentId,
      });
      return this.succeed(refund, null, 'confirmed by payment/details after a lost answer');
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
      return this.fatal(
        refund,
        `payment/return sent ${qr.sends} times and payment/details still shows ${formatTenge(now)} left: a person must look`,
      );
    }
    return this.fatal(
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

  // ---- outcomes ----

  private async succeed(refund: Refund, opId: string | null, note: string | null): Promise<void> {
    await this.deps.qrRefunds.update(refund.id, { returnOperationId: opId, note });
    await (this.ledger as RefundLedger).finish(refund, 'success', { lastProblem: null });
  }

  private async declined(refund: Refund, e: KaspiQrApiError): Promise<AppError> {
    const r = KASPI_REFUSALS[e.kind] ?? { status: 502, text: 'Kaspi refused the return' };
    const text = `${r.text} (Kaspi ${e.kaspiCode}: ${e.kaspiMessage}); refund ${refund.id} is declined, nothing was returned`;
    await (this.ledger as RefundLedger).finish(refund, 'declined', {
      errorCode: int32(e.kaspiCode),
      errorMessage: `${e.kind}: ${e.kaspiCode} ${e.kaspiMessage}`,
    });
    if (r.status >= 500)
      log.error('kaspi qr return refused for a configuration reason: a person must fix it', {
        refundId: refund.id,
        kaspiCode: e.kaspiCode,
        kind: e.kind,
      });
    return new AppError(KASPI_REFUSALS[e.kind] ? e.kind : 'kaspi_error', text, {
      httpStatus: r.status,
      details: { refundId: refund.id, kaspiCode: e.kaspiCode },
    });
  }

  private async fatal(refund: Refund, reason: string): Promise<void> {
    const moved = await this.deps.refunds.transition(undefined, refund.id, MOVABLE, {
      status: 'fatal',
      polled: true,
      nextPollAt: null,
      lastProblem: reason,
      flagReason: reason,
    });
    if (moved)
      log.error('kaspi qr return needs a person', { refundId: refund.id, txnId: refund.txnId, reason });
  }

  private async flag(refund: Refund, reason: string): Promise<void> {
    await this.deps.refunds.transition(undefined, refund.id, MOVABLE, {
      polled: true,
      nextPollAt: null,
      lastProblem: reason,
      flagReason: reason,
    });
    log.error('kaspi qr return needs a person', { refundId: refund.id, reason });
  }

  /** Not settled yet: the poller looks again after `recheckMs`. */
  private async later(refund: Refund, problem: string): Promise<void> {
    log.warn('kaspi qr return not settled yet: will look again', { refundId: refund.id, problem });
    await this.deps.refunds.transition(undefined, refund.id, MOVABLE, {
      polled: true,
      lastProblem: problem,
      nextPollAt: dbTime(new Date(Date.now() + this.settings.recheckMs)),
    });
  }

  // ---- checks and the row ----

  private validate(input: QrReturnRequest): Required<QrReturnRequest> {
    if (!input.actor?.id) throw new Error('a refund needs its actor for the audit log');
    const { reason, idempotencyKey: key } = readRefundInput(input, QR_PAYMENT_ID);
    return {
      txnId: input.txnId,
      amount: input.amount,
      reason,
      idempotencyKey: key,
      createdBy: input.createdBy,
      actor: input.actor,
      qrReturnId: input.qrReturnId ?? null,
    };
  }

  /** Credited, within what is left here, and no earlier return of it still unsettled. */
  private async localCheck(trx: Knex.Transaction, req: Required<QrReturnRequest>): Promise<Payment> {
    const p = await this.deps.payments.findForRefund(trx, 'kaspi_qr', req.txnId);
    if (!p)
      throw new AppError('payment_not_found', `no Kaspi QR purchase with QrPaymentId ${req.txnId}`, {
        httpStatus: 404,
      });
    if (p.state !== 'credited')
      throw new AppError(
        'payment_not_credited',
        `purchase ${req.txnId} is ${p.state}, not credited: nothing to return`,
        { httpStatus: 409 },
      );
    const held = await this.deps.refunds.heldAmount(trx, p.id);
    if (held + req.amount > p.amount)
      throw new AppError(
        'refund_exceeds_payment',
        `refund ${formatTenge(req.amount)} is above what is left of purchase ${req.txnId}: ${formatTenge(Math.max(0, p.amount - held))} of ${formatTenge(p.amount)}`,
        { httpStatus: 422, details: { remaining: formatTenge(Math.max(0, p.amount - held)) } },
      );
    const open = (await this.deps.refunds.listForPayment(p.id, trx)).find(
      (r) => r.status === 'new' || r.status === 'fatal',
    );
    if (open)
      throw new AppError(
        'return_in_progress',
        `return ${open.id} of purchase ${req.txnId} is not settled yet (${open.status}): it must be settled first`,
        { httpStatus: 409, details: { refundId: open.id } },
      );
    return p;
  }

  private async insert(
    trx: Knex.Transaction,
    req: Required<QrReturnRequest>,
    available: Tiyn,
  ): Promise<string> {
    const p = await this.localCheck(trx, req);
    const id = await this.deps.refunds.insert(trx, {
      source: 'kaspi_qr',
      refundIdentificator: randomUUID(),
      idempotencyKey: req.idempotencyKey,
      paymentId: p.id,
      txnId: req.txnId,
      account: p.account,
      amount: req.amount,
      // payment/return takes tenge written from the tiyn (1500.5): the row keeps the tiyn.
      returnAmount: req.amount,
      amountUnit: 'tiyn',
      reason: req.reason,
      createdBy: req.createdBy,
      // If this process dies mid-call, the poller settles it once our lock has run out.
      nextPollAt: dbTime(new Date(Date.now() + this.settings.lockHoldMs)),
    });
    await this.deps.qrRefunds.insert(trx, {
      refundId: id,
      qrPaymentId: req.txnId,
      scheme: this.scheme === 'r2' ? 'r2' : 'r3',
      qrReturnId: req.qrReturnId,
      availableBefore: available,
    });
    const held = await this.deps.refunds.heldAmount(trx, p.id);
    await audit.record(trx, {
      actor: req.actor,
      action: 'refund.filed',
      target: { type: 'refund', id },
      details: {
        source: 'kaspi_qr',
        txnId: req.txnId,
        paymentId: String(p.id),
        amount: formatTenge(req.amount),
        reason: req.reason,
        leftBefore: formatTenge(p.amount - held + req.amount),
        kaspiAvailable: formatTenge(available),
        ...(req.qrReturnId ? { qrReturnId: req.qrReturnId } : {}),
      },
    });
    return id;
  }

  /** The request log (channel kaspi_qr): what was asked of Kaspi for a return and what came back. Never the device token. */
  private record(
    command: string,
    qrPaymentId: string,
    refund: Refund | null,
    started: number,
    err: unknown,
    answer?: Record<string, unknown>,
  ): void {
    const result =
      err instanceof KaspiQrApiError
        ? err.kaspiCode
        : err instanceof KaspiQrTransportError
          ? `transport_${err.reason}`
          : err
            ? 'error'
            : 0;
    this.deps.requestLog.record({
      channel: 'kaspi_qr',
      method: command === 'payment/details' ? 'GET' : 'POST',
      command,
      txnId: qrPaymentId,
      request: JSON.stringify({
        QrPaymentId: qrPaymentId,
        ...(refund ? { Amount: formatTenge(refund.amount), refundId: refund.id } : {}),
      }),
      result,
      comment: err ? message(err) : null,
      response: answer ? JSON.stringify(answer) : null,
      durationMs: Date.now() - started,
    });
  }
}

function isDetails(v: unknown): v is PaymentDetails {
  return v !== null && typeof v === 'object' && 'availableReturnAmount' in v;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sameOrConflict(earlier: Refund, req: { txnId: string; amount: Tiyn; reason: string }): Refund {
  if (earlier.txnId === req.txnId && earlier.amount === req.amount && earlier.reason === req.reason)
    return earlier;
  throw new ConflictError('idempotency key already used for another refund', { refundId: earlier.id });
}
