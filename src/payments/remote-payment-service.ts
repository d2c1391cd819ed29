import { withCommitRetry } from '../db/commit-retry.js';
import type { CreditOutcome, CreditRequest, RemoteBilling } from '../billing/billing.js';
import { dbNow } from '../db/db-clock.js';
import { isUniqueViolation, type Db } from '../db/db.js';
import { backoff } from '../shared/backoff.js';
import { NotFoundError, UpstreamError } from '../shared/errors.js';
import type { Tiyn } from '../shared/money.js';
import { readTxnDate } from '../shared/txn-date.js';
import {
  COMMENT_OK,
  COMMENT_PROCESSING,
  type KaspiResult,
  type PaymentService,
  type PaymentServiceOptions,
  type PayOutcome,
  type PayRequest,
} from './pay-types.js';
import { log, PaymentServiceBase, type Progress } from './payment-service-base.js';
import { RETRYABLE_STATES, type Payment, type PaymentState, type PaymentStore } from './payment-store.js';
import { paymentRow } from './record-and-credit/general.js';

type CreditTarget = Pick<
  Payment,
  'id' | 'source' | 'txnId' | 'account' | 'amount' | 'txnDateRaw' | 'txnDate' | 'attempts'
>;

/**
 * The external billing (`http`): the payment row is committed first, already claimed for sending
 * (state crediting, a claim that runs out by the database's clock), then the billing is called
 * with the Idempotency-Key `<source>:<txn_id>`, then the final state is written. When the outcome
 * is in doubt the payment is `pending` and the retry job sends the same key again later; a process
 * that dies mid-call leaves a claim that runs out, and the retry job takes it from there.
 */
export class RemotePaymentService extends PaymentServiceBase implements PaymentService {
  constructor(
    db: Db,
    payments: PaymentStore,
    private readonly billing: RemoteBilling,
    opts: PaymentServiceOptions,
  ) {
    super(db, payments, (a) => billing.lookup(a), opts);
  }

  /** How long a sender holds a claimed credit before others may take it: well past its longest call. */
  get claimMs(): number {
    return 2 * this.billing.maxCallMs + 1000;
  }

  recordAndCredit(req: PayRequest): Promise<PayOutcome> {
    const progress: Progress = { prvTxn: null, amount: req.amount, txnId: req.txnId };
    return this.withinDeadline(this.recordThenSend(req, progress), progress, req.startedAt);
  }

  creditStored(paymentId: string, from: readonly PaymentState[], amount?: Tiyn): Promise<PayOutcome> {
    const progress: Progress = { prvTxn: paymentId, amount: amount ?? 0, txnId: paymentId };
    return this.withinDeadline(this.claimThenSend(paymentId, from, amount, progress), progress);
  }

  /**
   * The claim is conditional on the attempt count the job read, so two runners (or a runner and a
   * late pay) never send the same credit at once.
   */
  async retryCredit(due: { id: string; attempts: number }): Promise<PayOutcome | null> {
    const claimed = await this.payments.claim(due.id, RETRYABLE_STATES, this.claimMs, {
      due: true,
      attempts: due.attempts,
    });
    if (!claimed) return null;
    const p = await this.payments.findById(due.id);
    if (!p) return null;
    return this.sendCredit(p, false);
  }

  private async recordThenSend(req: PayRequest, progress: Progress): Promise<PayOutcome> {
    let id: string;
    try {
      // The insert alone, run again after a conflict (src/db/commit-retry.ts): a run again after a
      // first one that did commit meets the unique key and replays.
      id = await withCommitRetry(
        this.db,
        'pay record',
        () =>
          this.payments.insert(undefined, {
            ...paymentRow(req),
            state: 'crediting',
            attempts: 1,
            nextAttemptAt: dbNow(this.db, this.claimMs),
          }),
        { txnId: req.txnId },
      );
    } catch (e) {
      if (isUniqueViolation(e)) return this.replayOrFallback(req);
      return this.afterFailure(req, e);
    }
    progress.prvTxn = id;
    return this.sendCredit({ ...paymentRow(req), id, attempts: 1 }, true);
  }

  private async claimThenSend(
    paymentId: string,
    from: readonly PaymentState[],
    amount: Tiyn | undefined,
    progress: Progress,
  ): Promise<PayOutcome> {
    if (!/^\d{1,20}$/.test(paymentId)) throw new NotFoundError('payment');
    const claimed = await this.payments.claim(
      paymentId,
      from,
      this.claimMs,
      amount === undefined ? {} : { amount },
    );
    const p = await this.payments.findById(paymentId);
    if (!p) throw new NotFoundError('payment');
    progress.amount = p.amount;
    if (!claimed) return this.answerFor(p);
    return this.sendCredit(p, true);
  }

  /** Sends a claimed credit and settles its state, fenced by the attempt that claimed it. */
  private async sendCredit(p: CreditTarget, created: boolean): Promise<PayOutcome> {
    const amount = p.amount;
    const answer = (result: KaspiResult, comment: string): PayOutcome => ({
      result,
      comment,
      prvTxn: p.id,
      amount,
      created,
    });
    let outcome: CreditOutcome;
    try {
      outcome = await this.billing.credit(this.creditRequest(p));
    } catch (e) {
      await this.leavePending(p, e);
      return answer(4, COMMENT_PROCESSING);
    }
    try {
      if (outcome.ok) {
        // A success settles the payment whoever claimed it last: the billing holds one credit per key.
        const moved = await this.payments.transition(undefined, p.id, RETRYABLE_STATES, {
          state: 'credited',
          result: 0,
          comment: COMMENT_OK,
          billingRef: outcome.billingRef,
          orderNumber: outcome.orderNumber ?? null,
          lastError: null,
          nextAttemptAt: null,
        });
        if (!moved) {
          const stored = await this.storedAnswer(p.id, created);
          if (stored.result !== 0) {
            log.error('billing credited a payment recorded as refused: a person must reconcile it', {
              txnId: p.txnId,
              prvTxn: p.id,
              billingRef: outcome.billingRef,
              storedResult: stored.result,
            });
          }
          return stored;
        }
        log.info('payment credited', {
          source: p.source,
          txnId: p.txnId,
          prvTxn: p.id,
          amount,
          attempt: p.attempts,
        });
        return answer(0, COMMENT_OK);
      }
      const moved = await this.payments.transition(
        undefined,
        p.id,
        ['crediting'],
        { state: 'failed', result: outcome.result, comment: outcome.comment, nextAttemptAt: null },
        { attempts: p.attempts },
      );
      if (!moved) return this.storedAnswer(p.id, created);
      log.info('payment refused by billing', {
        source: p.source,
        txnId: p.txnId,
        prvTxn: p.id,
        result: outcome.result,
      });
      return answer(outcome.result, outcome.comment);
    } catch (e) {
      // The billing answered but we could not record it: the claim runs out and the retry job asks
      // again with the same key, getting the same answer.
      log.warn('billing answered but the payment state was not saved; the retry job asks again', {
        txnId: p.txnId,
        prvTxn: p.id,
        err: e,
      });
      return answer(4, COMMENT_PROCESSING);
    }
  }

  private async leavePending(p: CreditTarget, e: unknown): Promise<void> {
    const delayMs = backoff(p.attempts, {
      baseMs: this.opts.retryBackoffMs,
      maxMs: this.opts.retryBackoffMaxMs,
    });
    const code = e instanceof UpstreamError ? e.code : 'internal';
    const detail = (e as { detail?: string })?.detail ?? (e instanceof Error ? e.message : String(e));
    const fields = {
      source: p.source,
      txnId: p.txnId,
      prvTxn: p.id,
      attempt: p.attempts,
      code,
      retryInMs: delayMs,
    };
    if (e instanceof UpstreamError && e.transient) {
      // One line with the cause (what failed, where, how long); the stack only when the log is at debug.
      log.warn('credit in doubt: payment pending, the retry job will send it again', { ...fields, err: e });
    } else {
      log.error('credit failed unexpectedly: payment pending, the retry job will send it again', {
        ...fields,
        err: e,
      });
    }
    try {
      await this.payments.transition(
        undefined,
        p.id,
        ['crediting'],
        { state: 'pending', lastError: `${code}: ${detail}`, nextAttemptAt: dbNow(this.db, delayMs) },
        { attempts: p.attempts },
      );
    } catch (dbErr) {
      log.warn('pending state not saved; the claim runs out and the retry job takes the payment', {
        prvTxn: p.id,
        err: dbErr,
      });
    }
  }

  private async storedAnswer(id: string, created: boolean): Promise<PayOutcome> {
    const now = await this.payments.findById(id);
    if (!now) throw new Error(`payment ${id} vanished`);
    return { ...this.answerFor(now), created };
  }

  private creditRequest(p: CreditTarget): CreditRequest {
    let txnDate: string | null = null;
    if (p.txnDateRaw) txnDate = readTxnDate(p.txnDateRaw, this.opts.txnDateOffset)?.iso ?? null;
    else if (p.txnDate) txnDate = new Date(`${p.txnDate.replace(' ', 'T')}Z`).toISOString();
    return {
      paymentId: p.id,
      source: p.source,
      txnId: p.txnId,
      account: p.account,
      amount: p.amount,
      txnDate,
    };
  }
}
