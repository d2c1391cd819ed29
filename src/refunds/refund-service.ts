import { audit, type Actor } from '../audit/audit-log.js';
import { transactionWithRetry } from '../db/commit-retry.js';
import type { Db } from '../db/db.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import type { PaymentStore } from '../payments/payment-store.js';
import type { RefundAnswer, RefundApiClient } from './refund-api-client.js';
import { RefundAnswers } from './refund-answers.js';
import type { RefundBilling } from './refund-billing.js';
import { RefundFiling, type CreateRefund, type RefundSettings } from './refund-filing.js';
import { RecordedRefunds, type RecordDoneRefund } from './refund-recorded.js';
import { RefundSettlement } from './refund-settlement.js';
import type { KaspiQrReturns } from './kaspi-qr-returns.js';
import {
  MOVABLE_STATUSES as MOVABLE,
  type Refund,
  type RefundFilter,
  type RefundPatch,
  type RefundStore,
} from './refund-store.js';

export type { CreateRefund, RefundSettings } from './refund-filing.js';
export type { RecordDoneRefund } from './refund-recorded.js';

const log = getLogger('refunds');

const DAY_MS = 86_400_000;

/**
 * The refund ledger and its conversation with Kaspi: what the admin API, the CLI, the console and the
 * poller call. The work is in its parts: filing (refund-filing), Kaspi's answers (refund-answers), the
 * final move and the billing's notice (refund-settlement); Kaspi QR returns in kaspi-qr-returns.
 */
export class RefundService {
  private qr: KaspiQrReturns | null = null;
  private readonly filing: RefundFiling;
  private readonly settlement: RefundSettlement;
  private readonly answers: RefundAnswers;
  private readonly recorded: RecordedRefunds;

  constructor(
    private readonly db: Db,
    private readonly store: RefundStore,
    payments: PaymentStore,
    private readonly api: RefundApiClient | null,
    billing: RefundBilling,
    private readonly settings: RefundSettings,
  ) {
    this.filing = new RefundFiling(db, store, payments, settings);
    this.settlement = new RefundSettlement(db, store, billing, settings.backoffMs);
    this.answers = new RefundAnswers(store, this.settlement, settings.backoffMs);
    this.recorded = new RecordedRefunds(db, store, payments, this.settlement);
  }

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
    if (!this.api)
      throw new AppError('refunds_disabled', 'refunds are not configured (REFUND_API_URL)', {
        httpStatus: 503,
      });
    const recorded = await this.filing.record(input);
    if (!recorded.created) return recorded;
    const stored = recorded.refund;
    log.info('refund stored', {
      refundId: stored.id,
      txnId: stored.txnId,
      amount: stored.amount,
      refundIdentificator: stored.refundIdentificator,
      by: stored.createdBy,
    });
    await this.file(stored);
    return { refund: (await this.store.findById(stored.id)) as Refund, created: true };
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
    if (refund.status === 'success') return this.settlement.notifyRemote(refund);
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
      return this.answers.noAnswer(refund, e);
    }
    await this.answers.apply(refund, answer, 'RefundStatus');
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

  /**
   * A refund Kaspi already made, recorded from a registry (origin `registry`): stored as success,
   * nothing sent to Kaspi, the billing told once. See RecordedRefunds.
   */
  recordDone(input: RecordDoneRefund): Promise<{ refund: Refund; created: boolean }> {
    return this.recorded.record(input);
  }

  /** A refund to a final status, once (Kaspi QR returns end here too): see RefundSettlement.finish. */
  finish(refund: Refund, status: 'success' | 'declined' | 'failed', patch: RefundPatch): Promise<void> {
    return this.settlement.finish(refund, status, patch);
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
      return this.answers.noAnswer(refund, e);
    }
    if (answer.errorCode === 4) {
      // "Already exists, check its status": an earlier send of ours got through.
      if (answer.requestIdentificator === null) {
        return this.answers.stopAndFlag(
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
    await this.answers.apply(refund, answer, 'RefundRequest');
  }
}
