import type { Knex } from 'knex';
import type {
  Billing,
  CreditOutcome,
  CreditRequest,
  EmbeddedBilling,
  Field,
  RemoteBilling,
} from '../billing/billing.js';
import { EMBEDDED_CREDIT_REF } from '../billing/sql-billing.js';
import { dbNow } from '../db/db-clock.js';
import { isRetryableTxError, isUniqueViolation, type Db } from '../db/db.js';
import { NotFoundError, UpstreamError } from '../http/errors.js';
import { readTxnDate } from '../kaspi/kaspi-request.js';
import { getLogger } from '../log/logger.js';
import type { Tiyn } from './money.js';
import {
  FINAL_STATES,
  RETRYABLE_STATES,
  type Payment,
  type PaymentSource,
  type PaymentState,
  type PaymentStore,
} from './payment-store.js';

const log = getLogger('payments');

export type KaspiResult = 0 | 1 | 2 | 3 | 4 | 5;

export interface CheckOutcome {
  result: KaspiResult;
  comment: string;
  fields: Field[];
}

export interface PayRequest {
  source: PaymentSource;
  txnId: string;
  account: string;
  amount: Tiyn;
  txnDateRaw: string | null;
  /** UTC instant, as stored. */
  txnDate: string | null;
  /** The same instant with the payer's offset, for the billing contract. */
  txnDateIso: string | null;
  extra: Record<string, string> | null;
  /** process.hrtime.bigint() when the request arrived: the deadline counts from there. */
  startedAt?: bigint;
}

export interface PayOutcome {
  result: KaspiResult;
  comment: string;
  /** null when nothing is known to be recorded (the database failed or stalled before the row was committed). */
  prvTxn: string | null;
  amount: Tiyn;
  /** true when this call recorded the payment; false for a replay of an earlier one. */
  created: boolean;
}

export interface PaymentServiceOptions {
  /** pay() and creditStored() answer within this budget; what doesn't fit finishes in the background. */
  deadlineMs: number;
  /** First delay before a pending credit is retried; doubles per attempt, with jitter. */
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** Offset of Kaspi's txn_date, to send the billing the same txnDate on every retry. */
  txnDateOffset: string;
}

const DEFAULT_OPTIONS: PaymentServiceOptions = {
  deadlineMs: 10_000,
  retryBackoffMs: 10_000,
  retryBackoffMaxMs: 600_000,
  txnDateOffset: '+05:00',
};

export const COMMENT_OK = 'OK';
export const COMMENT_PROCESSING = 'Payment is being processed';
export const COMMENT_REUSED = 'txn_id already used with other parameters';

/**
 * InnoDB may pick a pay's transaction as a deadlock victim when many identical pays race on one
 * unique key and one account row; the transaction rolled back whole, so running it again is safe.
 * The deadline still bounds the answer.
 */
const MAX_TX_ATTEMPTS = 8;
const TIMED_OUT = Symbol('deadline');

/** What the answer given at the deadline can tell: the prv_txn once it is committed. */
interface Progress {
  prvTxn: string | null;
  amount: Tiyn;
  txnId: string;
}

/** What a pay request stores in its payment row, whichever way it is written. */
function paymentRow(req: PayRequest) {
  return {
    source: req.source,
    txnId: req.txnId,
    account: req.account,
    amount: req.amount,
    txnDateRaw: req.txnDateRaw,
    txnDate: req.txnDate,
    extra: req.extra,
  };
}

type CreditTarget = Pick<
  Payment,
  'id' | 'source' | 'txnId' | 'account' | 'amount' | 'txnDateRaw' | 'txnDate' | 'attempts'
>;

/**
 * The check/pay flow, exactly once per (source, txn_id).
 *
 * Embedded billing (`sql`): the payment row is inserted under a unique key inside the same
 * transaction as the credit. Whoever inserts first owns the payment; a duplicate, however
 * concurrent, hits the key, waits for the owner to commit, and replays its stored answer.
 *
 * External billing (`http`): the payment row is committed first, already claimed for sending
 * (state crediting, a claim that runs out by the database's clock), then the billing is called
 * with the Idempotency-Key `<source>:<txn_id>`, then the final state is written. When the
 * outcome is in doubt the payment is `pending` and the retry job sends the same key again later;
 * a process that dies mid-call leaves a claim that runs out, and the retry job takes it from there.
 *
 * Either way the answer comes within the deadline: work that doesn't fit goes on in the
 * background and Kaspi gets 4 (never 5 for a payment that may still be credited).
 */
export class PaymentService {
  private readonly opts: PaymentServiceOptions;
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly payments: PaymentStore,
    private readonly billing: Billing,
    opts: Partial<PaymentServiceOptions> = {},
  ) {
    this.opts = { ...DEFAULT_OPTIONS, ...opts };
  }

  /** How long a sender holds a claimed credit before others may take it: well past its longest call. */
  get claimMs(): number {
    return this.billing.kind === 'http' ? 2 * this.billing.maxCallMs + 1000 : 0;
  }

  /**
   * Asks the billing whether the account (or order) may be paid. Answered within the deadline too:
   * a lookup that doesn't fit throws UpstreamError (check is safe to fail: Kaspi gets 5).
   */
  async check(account: string, startedAt?: bigint): Promise<CheckOutcome> {
    const lookup = this.billing.lookup(account);
    const found = await this.raceDeadline(lookup, startedAt);
    if (found === TIMED_OUT) {
      lookup.catch(() => undefined); // a GET: nothing to finish, only its late failure to silence
      log.warn('check not answered by the billing within the deadline', { deadlineMs: this.opts.deadlineMs });
      throw new UpstreamError('billing_timeout', 'Billing unavailable, try again later', true);
    }
    switch (found.kind) {
      case 'not_found':
        return { result: 1, comment: 'Account not found', fields: [] };
      case 'account':
        return { result: 0, comment: COMMENT_OK, fields: found.fields };
      case 'order':
        if (found.status === 'paid')
          return { result: 3, comment: 'Order already paid', fields: found.fields };
        if (found.status === 'cancelled')
          return { result: 2, comment: 'Order cancelled', fields: found.fields };
        return { result: 0, comment: COMMENT_OK, fields: found.fields };
    }
  }

  /** Never throws: every failure is an answer (4 when in doubt). */
  async pay(req: PayRequest): Promise<PayOutcome> {
    const progress: Progress = { prvTxn: null, amount: req.amount, txnId: req.txnId };
    const work = this.billing.kind === 'sql' ? this.paySql(req) : this.payRemote(this.billing, req, progress);
    return this.withinDeadline(work, progress, req.startedAt);
  }

  /** The outcome a later request for this txn_id must get, from what is stored. */
  answerFor(p: Payment): PayOutcome {
    const amount = p.amount;
    if (FINAL_STATES.includes(p.state)) {
      return {
        result: (p.result ?? 5) as KaspiResult,
        comment: p.comment ?? '',
        prvTxn: p.id,
        amount,
        created: false,
      };
    }
    return { result: 4, comment: COMMENT_PROCESSING, prvTxn: p.id, amount, created: false };
  }

  /**
   * Credits a payment that is already stored (JetPay's deposit, once its success callback comes).
   * The conditional move out of one of `from` decides who credits it: a concurrent or repeated
   * call finds the state moved on and gets the stored answer instead. With the external billing,
   * a credit in doubt answers 4 and the retry job finishes it. Answers within the deadline (then
   * `amount` is the one given, or 0 when none was). Throws NotFoundError for an unknown payment.
   */
  async creditStored(paymentId: string, from: readonly PaymentState[], amount?: Tiyn): Promise<PayOutcome> {
    const progress: Progress = { prvTxn: paymentId, amount: amount ?? 0, txnId: paymentId };
    const work =
      this.billing.kind === 'sql'
        ? this.creditStoredSql(paymentId, from, amount)
        : this.creditStoredRemote(this.billing, paymentId, from, amount, progress);
    return this.withinDeadline(work, progress);
  }

  /**
   * One retry of a credit the job found due. The claim is conditional on the attempt count it
   * read, so two runners (or a runner and a late pay) never send the same credit at once.
   * Null when someone else took it first.
   */
  async retryCredit(due: { id: string; attempts: number }): Promise<PayOutcome | null> {
    if (this.billing.kind === 'sql') {
      // Pending credits come from the external billing; after a switch to sql, finish them in one transaction.
      const p = await this.payments.findById(due.id);
      return p ? this.creditStoredSql(p.id, RETRYABLE_STATES) : null;
    }
    const billing = this.billing;
    if (
      !(await this.payments.claim(due.id, RETRYABLE_STATES, this.claimMs, {
        due: true,
        attempts: due.attempts,
      }))
    ) {
      return null;
    }
    const p = await this.payments.findById(due.id);
    if (!p) return null;
    return this.sendCredit(billing, p, false);
  }

  /** Waits (bounded) for work that went on after its answer: shutdown must not cut a payment. */
  async drain(timeoutMs = 30_000): Promise<void> {
    if (this.background.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.background]),
      new Promise((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (this.background.size > 0) {
      log.warn('stopped with payments still in progress; the retry job finishes them', {
        count: this.background.size,
      });
    }
  }

  /** The work's result, or TIMED_OUT when PAY_DEADLINE_MS (from `startedAt`, else now) comes first. */
  private async raceDeadline<T>(work: Promise<T>, startedAt?: bigint): Promise<T | typeof TIMED_OUT> {
    const elapsedMs = startedAt === undefined ? 0 : Number(process.hrtime.bigint() - startedAt) / 1e6;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, this.opts.deadlineMs - elapsedMs));
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async withinDeadline(
    work: Promise<PayOutcome>,
    progress: Progress,
    startedAt?: bigint,
  ): Promise<PayOutcome> {
    const done = await this.raceDeadline(work, startedAt);
    if (done !== TIMED_OUT) return done;
    log.warn('payment not finished within the deadline: answered 4, finishing in the background', {
      txnId: progress.txnId,
      prvTxn: progress.prvTxn,
      deadlineMs: this.opts.deadlineMs,
    });
    const rest = work.then(
      (out) =>
        void log.info('payment finished after its answer', {
          txnId: progress.txnId,
          prvTxn: out.prvTxn,
          result: out.result,
        }),
      (e: unknown) =>
        void log.error('payment failed after its answer', {
          txnId: progress.txnId,
          prvTxn: progress.prvTxn,
          err: e,
        }),
    );
    const tracked = rest.finally(() => this.background.delete(tracked));
    this.background.add(tracked);
    return {
      result: 4,
      comment: COMMENT_PROCESSING,
      prvTxn: progress.prvTxn,
      amount: progress.amount,
      created: false,
    };
  }

  // ---- embedded billing: payment and credit in one transaction ----

  private async paySql(req: PayRequest): Promise<PayOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.payOnce(req);
      } catch (e) {
        if (isUniqueViolation(e)) return this.replayOrFallback(req);
        if (isRetryableTxError(e) && attempt < MAX_TX_ATTEMPTS) {
          log.warn('pay transaction aborted by the database, retrying', { txnId: req.txnId, attempt });
          const backoff = Math.min(250, 5 * 2 ** attempt);
          await new Promise((r) => setTimeout(r, backoff / 2 + Math.random() * backoff));
          continue;
        }
        return this.afterFailure(req, e);
      }
    }
  }

  private async payOnce(req: PayRequest): Promise<PayOutcome> {
    if (this.billing.kind !== 'sql') throw new Error('payOnce is the embedded billing path');
    const billing = this.billing;
    const out = (await this.payInOneCall(billing, req)) ?? (await this.payInTransaction(billing, req));
    // Logged after the commit: a log write never holds the payment's row locks.
    if (out.result === 0)
      log.info('payment credited', {
        txnId: req.txnId,
        prvTxn: out.prvTxn,
        account: req.account,
        amount: req.amount,
      });
    else log.info('payment refused by billing', { txnId: req.txnId, prvTxn: out.prvTxn, result: out.result });
    return out;
  }

  /** The common pay (an active account) in one database call; null when it is not that case. */
  private async payInOneCall(billing: EmbeddedBilling, req: PayRequest): Promise<PayOutcome | null> {
    if (!billing.recordAndCredit) return null;
    const id = await billing.recordAndCredit({
      ...paymentRow(req),
      comment: COMMENT_OK,
      billingRef: EMBEDDED_CREDIT_REF,
    });
    return id === null
      ? null
      : { result: 0, comment: COMMENT_OK, prvTxn: id, amount: req.amount, created: true };
  }

  /** Any pay the embedded billing takes (orders, refusals): statement by statement, in one transaction. */
  private async payInTransaction(billing: EmbeddedBilling, req: PayRequest): Promise<PayOutcome> {
    return this.db.knex.transaction(async (trx) => {
      const id = await this.payments.insert(trx, { ...paymentRow(req), state: 'crediting' });
      const outcome = await billing.creditInTransaction(trx, {
        paymentId: id,
        source: req.source,
        txnId: req.txnId,
        account: req.account,
        amount: req.amount,
        txnDate: req.txnDateIso,
      });
      return this.settleInTransaction(trx, id, outcome, req.amount);
    });
  }

  private async creditStoredSql(
    paymentId: string,
    from: readonly PaymentState[],
    amount?: Tiyn,
  ): Promise<PayOutcome> {
    if (this.billing.kind !== 'sql') throw new Error('creditStoredSql is the embedded billing path');
    const billing = this.billing;
    return this.db.knex.transaction(async (trx) => {
      const p = await this.payments.findById(paymentId, trx);
      if (!p) throw new NotFoundError('payment');
      if (!(await this.payments.transition(trx, p.id, from, { state: 'crediting' }))) {
        const now = await this.payments.findById(paymentId, trx);
        return this.answerFor(now as Payment);
      }
      const credit = amount ?? p.amount;
      const outcome = await billing.creditInTransaction(trx, {
        paymentId: p.id,
        source: p.source,
        txnId: p.txnId,
        account: p.account,
        amount: credit,
        txnDate: p.txnDate,
      });
      const out = await this.settleInTransaction(trx, p.id, outcome, credit);
      if (out.result === 0)
        log.info('payment credited', { source: p.source, txnId: p.txnId, prvTxn: p.id, amount: credit });
      return out;
    });
  }

  /** The embedded credit's outcome written on its payment, inside the credit's transaction. */
  private async settleInTransaction(
    trx: Knex.Transaction,
    id: string,
    outcome: CreditOutcome,
    amount: Tiyn,
  ): Promise<PayOutcome> {
    if (outcome.ok) {
      await this.payments.transition(trx, id, ['crediting'], {
        state: 'credited',
        result: 0,
        comment: COMMENT_OK,
        billingRef: outcome.billingRef,
        orderNumber: outcome.orderNumber ?? null,
      });
      return { result: 0, comment: COMMENT_OK, prvTxn: id, amount, created: true };
    }
    await this.payments.transition(trx, id, ['crediting'], {
      state: 'failed',
      result: outcome.result,
      comment: outcome.comment,
    });
    return { result: outcome.result, comment: outcome.comment, prvTxn: id, amount, created: true };
  }

  // ---- external billing: record, claim, call, settle ----

  private async payRemote(billing: RemoteBilling, req: PayRequest, progress: Progress): Promise<PayOutcome> {
    let id: string;
    try {
      id = await this.payments.insert(undefined, {
        ...paymentRow(req),
        state: 'crediting',
        attempts: 1,
        nextAttemptAt: dbNow(this.db, this.claimMs),
      });
    } catch (e) {
      if (isUniqueViolation(e)) return this.replayOrFallback(req);
      return this.afterFailure(req, e);
    }
    progress.prvTxn = id;
    const target: CreditTarget = {
      id,
      source: req.source,
      txnId: req.txnId,
      account: req.account,
      amount: req.amount,
      txnDateRaw: req.txnDateRaw,
      txnDate: req.txnDate,
      attempts: 1,
    };
    return this.sendCredit(billing, target, true);
  }

  private async creditStoredRemote(
    billing: RemoteBilling,
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
    return this.sendCredit(billing, p, true);
  }

  /** Sends a claimed credit and settles its state, fenced by the attempt that claimed it. */
  private async sendCredit(billing: RemoteBilling, p: CreditTarget, created: boolean): Promise<PayOutcome> {
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
      outcome = await billing.credit(this.creditRequest(p));
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
    const delayMs = this.backoff(p.attempts);
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
      log.warn('credit in doubt: payment pending, the retry job will send it again', fields);
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

  /** Exponential from RETRY_BACKOFF_MS, capped, with equal jitter so a crowd of pendings spreads out. */
  backoff(attempt: number): number {
    const d = Math.min(this.opts.retryBackoffMaxMs, this.opts.retryBackoffMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(d / 2 + (d / 2) * Math.random());
  }

  // ---- both ----

  /** The replay reads the stored row; if the database went away meanwhile, that read fails too. */
  private async replayOrFallback(req: PayRequest): Promise<PayOutcome> {
    try {
      return await this.replay(req);
    } catch (readError) {
      return this.afterFailure(req, readError);
    }
  }

  private async replay(req: PayRequest): Promise<PayOutcome> {
    const p = await this.payments.findByTxn(req.source, req.txnId);
    if (!p) throw new Error(`unique key hit but no payment ${req.source}:${req.txnId}`);
    if (p.account !== req.account || p.amount !== req.amount) {
      log.error('txn_id reused with other parameters: refused, nothing stored', {
        txnId: req.txnId,
        stored: { account: p.account, amount: p.amount, prvTxn: p.id },
        received: { account: req.account, amount: req.amount },
      });
      return { result: 5, comment: COMMENT_REUSED, prvTxn: null, amount: req.amount, created: false };
    }
    return this.answerFor(p);
  }

  /**
   * Something broke that is not a protocol answer (the database went away, a bug). If the payment
   * is stored, its stored state answers. If not, nothing was credited; we still answer 4, not 5:
   * 5 is final for Kaspi, and a repeat after the fault will record the payment properly.
   */
  private async afterFailure(req: PayRequest, e: unknown): Promise<PayOutcome> {
    log.error('pay failed unexpectedly; answered as in processing', { txnId: req.txnId, err: e });
    try {
      const p = await this.payments.findByTxn(req.source, req.txnId);
      if (p && p.account === req.account && p.amount === req.amount) return this.answerFor(p);
    } catch {
      // the database is still down: the answer below holds
    }
    return { result: 4, comment: COMMENT_PROCESSING, prvTxn: null, amount: req.amount, created: false };
  }
}
