import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { audit, type Actor } from '../audit/audit-log.js';
import { transactionWithRetry } from '../db/commit-retry.js';
import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import { backoff } from '../shared/backoff.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import { formatTenge, type Tiyn } from '../shared/money.js';
import type { PaymentStore } from '../payments/payment-store.js';
import { RefundApiError, type RefundAnswer, type RefundApiClient } from './refund-api-client.js';
import type { RefundBilling, RefundNotice } from './refund-billing.js';
import type { KaspiQrReturns } from './kaspi-qr-returns.js';
import {
  KASPI_STATUS,
  PENDING_STATUSES,
  type Refund,
  type RefundFilter,
  type RefundPatch,
  type RefundStatus,
  type RefundStore,
} from './refund-store.js';
import { KASPI_TXN_ID, readRefundInput } from './refund-input.js';

const log = getLogger('refunds');

const MAX_BACKOFF_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Statuses an answer from Kaspi may move a refund out of. `fatal` too: a person may ask to look again. */
const MOVABLE: readonly RefundStatus[] = [...PENDING_STATUSES, 'fatal'];

export interface RefundSettings {
  amountUnit: 'tenge' | 'tiyn';
  backoffMs: number;
  maxAgeDays: number;
}

export interface CreateRefund {
  txnId: string;
  amount: Tiyn;
  reason: string;
  idempotencyKey?: string | null;
  /** Who asked: `admin-api`, `cli`, `console:<login>` ... */
  createdBy: string;
  /** Who asked, for the audit log (written in the transaction that stores the refund). */
  actor: Actor;
  /** Whose payment: `kaspi` (default, the Refund API) or `kaspi_qr` (txnId = the QrPaymentId; payment/return). */
  source?: 'kaspi' | 'kaspi_qr';
}

/** The refund ledger and its conversation with Kaspi. */
export class RefundService {
  private qr: KaspiQrReturns | null = null;

  constructor(
    private readonly db: Db,
    private readonly store: RefundStore,
    private readonly payments: PaymentStore,
    private readonly api: RefundApiClient | null,
    private readonly billing: RefundBilling,
    private readonly settings: RefundSettings,
  ) {}

  /** Kaspi QR returns (`source: "kaspi_qr"`) go through this ledger too; wired when KASPI_QR_SCHEME is set. */
  useKaspiQr(returns: KaspiQrReturns): void {
    this.qr = returns;
    returns.attach(this);
  }

  /** Something to poll: the Refund API, Kaspi QR returns, or both. */
  get enabled(): boolean {
    return this.api !== null || this.qr !== null;
  }

  /**
   * Checks, stores, then files a refund with Kaspi. Anything refused is refused before a row exists.
   * The row is committed before the call, so a crash or a lost answer leaves a refund the poller
   * files again with the same RefundIdentificator. Returns `created: false` for a repeat of an
   * earlier request with the same idempotency key.
   */
  async create(input: CreateRefund): Promise<{ refund: Refund; created: boolean }> {
    if (input.source === 'kaspi_qr') {
      if (!this.qr)
        throw new AppError('kaspi_qr_disabled', 'Kaspi QR is not configured here (KASPI_QR_SCHEME)', {
          httpStatus: 409,
        });
      return this.qr.create(input);
    }
    if (input.source !== undefined && input.source !== 'kaspi')
      throw new ValidationError('source must be "kaspi" or "kaspi_qr"');
    const api = this.api;
    if (!api)
      throw new AppError('refunds_disabled', 'refunds are not configured (REFUND_API_URL)', {
        httpStatus: 503,
      });
    const req = this.validate(input);
    if (req.idempotencyKey) {
      const earlier = await this.store.findByIdempotencyKey(req.idempotencyKey);
      if (earlier) return { refund: this.sameOrConflict(earlier, req), created: false };
    }

    let id: string;
    try {
      // Run again from the start when the database aborted it for a conflict: on Galera the refund
      // that lost certification to another one of the same payment then sees it in what is held.
      id = await transactionWithRetry(this.db, 'file refund', (trx) => this.checkAndInsert(trx, req), {
        txnId: req.txnId,
      });
    } catch (e) {
      if (req.idempotencyKey && isUniqueViolation(e)) {
        const earlier = await this.store.findByIdempotencyKey(req.idempotencyKey);
        if (earlier) return { refund: this.sameOrConflict(earlier, req), created: false };
      }
      throw e;
    }
    const stored = (await this.store.findById(id)) as Refund;
    log.info('refund stored', {
      refundId: id,
      txnId: stored.txnId,
      amount: stored.amount,
      refundIdentificator: stored.refundIdentificator,
      by: stored.createdBy,
    });
    await this.file(stored);
    return { refund: (await this.store.findById(id)) as Refund, created: true };
  }

  async get(id: string): Promise<Refund> {
    const r = await this.store.findById(id);
    if (!r) throw new NotFoundError('refund');
    return r;
  }

  list(f: RefundFilter = {}): Promise<Refund[]> {
    return this.store.list(f);
  }

  forPayment(paymentId: string): Promise<Refund[]> {
    return this.store.listForPayment(paymentId);
  }

  /**
   * One poll of one refund, by the poller: files it again if Kaspi never answered, asks for its
   * status otherwise, or repeats telling a remote billing of a success.
   */
  async poll(refund: Refund): Promise<void> {
    if (refund.status === 'success') return this.notifyRemote(refund);
    // A Kaspi QR return is never filed with the Refund API: its own check settles it.
    if (refund.source === 'kaspi_qr') return this.qr?.recover(refund);
    if (!this.api) return;
    if (refund.requestIdentificator === null) return this.file(refund);
    let answer: RefundAnswer;
    try {
      answer = await this.api.refundStatus(refund.requestIdentificator, {
        txnId: refund.txnId,
        refundId: refund.id,
      });
    } catch (e) {
      return this.noAnswer(refund, e);
    }
    await this.apply(refund, answer, 'RefundStatus');
  }

  /**
   * A person looked at a flagged, stopped or FATAL refund and wants it followed again: it is due
   * at the next poll, and its flag is cleared so a new problem flags it again.
   */
  async resume(id: string, actor: Actor): Promise<Refund> {
    const r = await this.get(id);
    const resumed = await transactionWithRetry(this.db, 'resume refund', async (trx) => {
      if (!(await this.store.resume(id, MOVABLE, trx))) return false;
      await audit.record(trx, {
        actor,
        action: 'refund.resumed',
        target: { type: 'refund', id },
        details: { txnId: r.txnId, status: r.status, flagReason: r.flagReason },
      });
      return true;
    });
    if (!resumed) throw new ConflictError(`refund ${id} is ${r.status}: final, nothing to follow`);
    log.info('refund resumed by a person', { refundId: id, status: r.status, by: actor.id });
    return (await this.store.findById(id)) as Refund;
  }

  /** Flags refunds still not final after REFUND_MAX_AGE_DAYS; each once. */
  async flagIfTooOld(refund: Refund, now = new Date()): Promise<void> {
    const created = new Date(`${refund.createdAt.replace(' ', 'T')}Z`).getTime();
    if (now.getTime() - created < this.settings.maxAgeDays * DAY_MS) return;
    const fresh = await this.store.findById(refund.id);
    if (!fresh || !MOVABLE.includes(fresh.status) || fresh.flaggedAt) return;
    const reason = `not final after ${this.settings.maxAgeDays} days (status ${fresh.status})`;
    if (await this.store.flag(refund.id, reason)) {
      log.error('refund needs a person: not final for too long', {
        refundId: refund.id,
        txnId: refund.txnId,
        status: fresh.status,
      });
    }
  }

  private validate(input: CreateRefund): Required<CreateRefund> & { returnAmount: number } {
    if (!input.actor?.id) throw new Error('a refund needs its actor for the audit log');
    const { reason, idempotencyKey: key } = readRefundInput(input, KASPI_TXN_ID);
    let returnAmount = input.amount;
    if (this.settings.amountUnit === 'tenge') {
      if (input.amount % 100 !== 0) {
        throw new ValidationError(
          `Kaspi takes refunds in whole tenge here (REFUND_AMOUNT_UNIT=tenge): ${formatTenge(input.amount)} has tiyn`,
        );
      }
      returnAmount = input.amount / 100;
    }
    return {
      txnId: input.txnId,
      amount: input.amount,
      reason,
      idempotencyKey: key,
      createdBy: input.createdBy,
      actor: input.actor,
      source: 'kaspi',
      returnAmount,
    };
  }

  private sameOrConflict(earlier: Refund, req: { txnId: string; amount: Tiyn; reason: string }): Refund {
    if (earlier.txnId === req.txnId && earlier.amount === req.amount && earlier.reason === req.reason)
      return earlier;
    throw new ConflictError('idempotency key already used for another refund', { refundId: earlier.id });
  }

  /**
   * The payment is locked (PaymentStore.findForRefund) and written (markRefundFiled) for the check
   * and the insert: on one server the lock orders two refunds of one payment, on Galera the write
   * makes them conflict at certification.
   */
  private async checkAndInsert(
    trx: Knex.Transaction,
    req: Required<CreateRefund> & { returnAmount: number },
  ): Promise<string> {
    const p = await this.payments.findForRefund(trx, 'kaspi', req.txnId);
    if (!p)
      throw new AppError('payment_not_found', `no Kaspi payment with txn_id ${req.txnId}`, {
        httpStatus: 404,
      });
    if (p.state !== 'credited') {
      throw new AppError(
        'payment_not_credited',
        `payment ${req.txnId} is ${p.state}, not credited: nothing to refund`,
        {
          httpStatus: 409,
        },
      );
    }
    // The payment's row written before anything is read of its refunds: see markRefundFiled.
    await this.payments.markRefundFiled(trx, p.id);
    const paid = p.amount;
    const held = await this.store.heldAmount(trx, p.id);
    if (held + req.amount > paid) {
      throw new AppError(
        'refund_exceeds_payment',
        `refund ${formatTenge(req.amount)} is above what is left of payment ${req.txnId}: ${formatTenge(Math.max(0, paid - held))} of ${formatTenge(paid)}`,
        { httpStatus: 422, details: { remaining: formatTenge(Math.max(0, paid - held)) } },
      );
    }
    const id = await this.store.insert(trx, {
      refundIdentificator: randomUUID(),
      idempotencyKey: req.idempotencyKey,
      paymentId: p.id,
      txnId: req.txnId,
      account: p.account,
      amount: req.amount,
      returnAmount: req.returnAmount,
      amountUnit: this.settings.amountUnit,
      reason: req.reason,
      createdBy: req.createdBy,
      nextPollAt: dbTime(new Date(Date.now() + this.settings.backoffMs)),
    });
    await audit.record(trx, {
      actor: req.actor,
      action: 'refund.filed',
      target: { type: 'refund', id },
      details: {
        txnId: req.txnId,
        paymentId: String(p.id),
        amount: formatTenge(req.amount),
        reason: req.reason,
        leftBefore: formatTenge(paid - held),
      },
    });
    return id;
  }

  /** RefundRequest, with the refund's own identificator: safe to repeat. */
  private async file(refund: Refund): Promise<void> {
    const api = this.api as RefundApiClient;
    let answer: RefundAnswer;
    try {
      answer = await api.refundRequest({
        paymentId: refund.txnId,
        returnAmount: refund.returnAmount,
        refundIdentificator: refund.refundIdentificator,
        reason: refund.reason,
        refundId: refund.id,
      });
    } catch (e) {
      return this.noAnswer(refund, e);
    }
    if (answer.errorCode === 4) {
      // "Already exists, check its status": an earlier send of ours got through.
      if (answer.requestIdentificator === null) {
        return this.stopAndFlag(
          refund,
          answer,
          'Kaspi says the refund exists (error 4) but gave no requestIdentificator',
        );
      }
      log.info('refund already filed with Kaspi: looking up its status', { refundId: refund.id });
      await this.store.transition(undefined, refund.id, MOVABLE, {
        requestIdentificator: answer.requestIdentificator,
      });
      const withId = (await this.store.findById(refund.id)) as Refund;
      return this.poll(withId);
    }
    await this.apply(refund, answer, 'RefundRequest');
  }

  /** What Kaspi's answer means for the refund: `error.code` first, then `statusCode`. */
  private async apply(
    refund: Refund,
    a: RefundAnswer,
    call: 'RefundRequest' | 'RefundStatus',
  ): Promise<void> {
    const kaspi = { kaspiStatus: a.statusCode, errorCode: a.errorCode, errorMessage: a.errorMessage };
    const rid = a.requestIdentificator ?? refund.requestIdentificator;
    switch (a.errorCode) {
      case null:
        break;
      case -1: // general processing error: nothing decided, ask again later
        return this.retryLater(refund, `${call}: Kaspi error -1 ${a.errorMessage ?? ''}`.trim(), {
          ...kaspi,
          requestIdentificator: rid,
        });
      case -2:
        return this.toFatal(refund, a, `Kaspi error -2 (fatal processing error) on ${call}`);
      case 1: // original payment not found
      case 2: // amount above the payment
      case 3: // payment not refundable
      case 5: // an active or failed request already exists for this payment
        return this.finish(refund, a.statusCode === 3 ? 'failed' : 'declined', {
          ...kaspi,
          requestIdentificator: rid,
        });
      case 4: // on a status call: nothing new
        return this.retryLater(refund, `${call}: Kaspi error 4`, { requestIdentificator: rid });
      case 6:
        return this.stopAndFlag(refund, a, `Kaspi does not know this refund (error 6) on ${call}`);
      default:
        return this.unrecognised(refund, a, call);
    }
    const status = KASPI_STATUS[a.statusCode];
    if (status === undefined) return this.unrecognised(refund, a, call);
    if (status === 'fatal') return this.toFatal(refund, a, `Kaspi status 5 FATAL on ${call}`);
    if (status === 'success' || status === 'declined' || status === 'failed') {
      return this.finish(refund, status, { ...kaspi, requestIdentificator: rid });
    }
    if (rid === null) {
      // Taken, but with nothing to ask about: filing it again brings error 4 and the identificator.
      return this.retryLater(refund, `${call}: status ${a.statusCode} without requestIdentificator`, kaspi);
    }
    const moved = await this.store.transition(undefined, refund.id, MOVABLE, {
      ...kaspi,
      status,
      requestIdentificator: rid,
      polled: true,
      lastProblem: null,
      nextPollAt: this.nextPoll(refund),
    });
    if (moved && status !== refund.status)
      log.info('refund status', { refundId: refund.id, status, kaspiStatus: a.statusCode });
  }

  /**
   * A refund to a final status, once (the conditional transition decides who wins); success debits
   * the embedded billing in the same transaction, or tells the remote one after commit.
   */
  async finish(refund: Refund, status: 'success' | 'declined' | 'failed', patch: RefundPatch): Promise<void> {
    if (status !== 'success') {
      const moved = await this.store.transition(undefined, refund.id, MOVABLE, {
        ...patch,
        status,
        polled: true,
        nextPollAt: null,
        lastProblem: null,
      });
      if (moved) {
        log.info(`refund ${status}`, {
          refundId: refund.id,
          txnId: refund.txnId,
          errorCode: patch.errorCode,
          errorMessage: patch.errorMessage,
        });
      }
      return;
    }
    const notice = this.notice(refund);
    const billing = this.billing;
    const moved = await transactionWithRetry(this.db, 'refund success', async (trx) => {
      const won = await this.store.transition(trx, refund.id, MOVABLE, {
        ...patch,
        status: 'success',
        polled: true,
        lastProblem: null,
        // A remote billing is told after commit; until it has heard, the poller keeps trying.
        nextPollAt: billing.kind === 'sql' ? null : dbTime(),
      });
      if (!won) return false;
      if (billing.kind === 'sql') {
        const ref = await billing.debitInTransaction(trx, notice);
        await this.store.transition(trx, refund.id, ['success'], { billingNotified: true, billingRef: ref });
      }
      return true;
    });
    if (!moved) return;
    log.info('refund succeeded: money returned to the payer', {
      refundId: refund.id,
      txnId: refund.txnId,
      amount: refund.amount,
    });
    if (billing.kind === 'http') await this.notifyRemote((await this.store.findById(refund.id)) as Refund);
  }

  private async notifyRemote(refund: Refund): Promise<void> {
    const billing = this.billing;
    if (billing.kind !== 'http' || refund.billingNotifiedAt !== null) return;
    try {
      const out = await billing.notifyRefund(this.notice(refund));
      await this.store.transition(undefined, refund.id, ['success'], {
        billingNotified: true,
        billingRef: out.billingRef,
        nextPollAt: null,
      });
    } catch (e) {
      log.warn('billing not told of a refund yet: will repeat', { refundId: refund.id, err: e });
      await this.store.transition(undefined, refund.id, ['success'], {
        polled: true,
        lastProblem: `billing: ${e instanceof Error ? e.message : String(e)}`,
        nextPollAt: this.nextPoll(refund),
      });
    }
  }

  private notice(r: Refund): RefundNotice {
    return { refundId: r.id, paymentId: r.paymentId, txnId: r.txnId, account: r.account, amount: r.amount };
  }

  private async toFatal(refund: Refund, a: RefundAnswer, reason: string): Promise<void> {
    const moved = await this.store.transition(undefined, refund.id, MOVABLE, {
      status: 'fatal',
      kaspiStatus: a.statusCode,
      errorCode: a.errorCode,
      errorMessage: a.errorMessage,
      requestIdentificator: a.requestIdentificator ?? refund.requestIdentificator,
      polled: true,
      nextPollAt: null,
      flagReason: reason,
    });
    if (moved)
      log.error('refund needs a person: Kaspi reports it FATAL', {
        refundId: refund.id,
        txnId: refund.txnId,
        reason,
        errorCode: a.errorCode,
      });
  }

  /** Polling stops and a person is asked: the answer leaves nothing an automaton could do. */
  private async stopAndFlag(refund: Refund, a: RefundAnswer, reason: string): Promise<void> {
    const moved = await this.store.transition(undefined, refund.id, MOVABLE, {
      kaspiStatus: a.statusCode,
      errorCode: a.errorCode,
      errorMessage: a.errorMessage,
      polled: true,
      nextPollAt: null,
      lastProblem: reason,
      flagReason: reason,
    });
    if (moved) log.error('refund needs a person', { refundId: refund.id, txnId: refund.txnId, reason });
  }

  private async unrecognised(refund: Refund, a: RefundAnswer, call: string): Promise<void> {
    const problem = `${call}: unrecognised answer statusCode=${a.statusCode} error=${a.errorCode ?? '-'}`;
    log.error('Refund API answered something we do not know: polling on, a person should look', {
      refundId: refund.id,
      statusCode: a.statusCode,
      errorCode: a.errorCode,
    });
    await this.store.transition(undefined, refund.id, MOVABLE, {
      polled: true,
      lastProblem: problem,
      nextPollAt: this.nextPoll(refund),
      ...(refund.flaggedAt ? {} : { flagReason: problem }),
    });
  }

  private async retryLater(refund: Refund, problem: string, patch: RefundPatch = {}): Promise<void> {
    await this.store.transition(undefined, refund.id, MOVABLE, {
      ...patch,
      polled: true,
      lastProblem: problem,
      nextPollAt: this.nextPoll(refund),
    });
  }

  private async noAnswer(refund: Refund, e: unknown): Promise<void> {
    if (!(e instanceof RefundApiError) && !(e instanceof AppError)) throw e;
    const message = e.message;
    if (e instanceof RefundApiError && !e.transient) {
      log.error('Refund API refuses us: a person must fix it; the refund waits', {
        refundId: refund.id,
        err: e,
      });
    } else {
      log.warn('Refund API gave no usable answer: will ask again', { refundId: refund.id, err: e });
    }
    await this.retryLater(refund, message);
  }

  /**
   * The one backoff: REFUND_BACKOFF_MS after the first call, doubling with every call since, at most an
   * hour, with jitter (half of it), so refunds filed together are not polled in step.
   */
  private nextPoll(refund: Refund): string {
    const delay = backoff(refund.polls + 1, { baseMs: this.settings.backoffMs, maxMs: MAX_BACKOFF_MS });
    return dbTime(new Date(Date.now() + delay));
  }
}
