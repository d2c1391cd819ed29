import type { Lookup } from '../billing/billing.js';
import type { Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import { UpstreamError } from '../shared/errors.js';
import { raceDeadline, TIMED_OUT } from '../shared/deadline.js';
import type { Tiyn } from '../shared/money.js';
import {
  COMMENT_OK,
  COMMENT_PROCESSING,
  COMMENT_REUSED,
  type CheckOutcome,
  type KaspiResult,
  type PaymentServiceOptions,
  type PayOutcome,
  type PayRequest,
} from './pay-types.js';
import { FINAL_STATES, type Payment, type PaymentStore } from './payment-store.js';

export const log = getLogger('payments');

/** What the answer given at the deadline can tell: the prv_txn once it is committed. */
export interface Progress {
  prvTxn: string | null;
  amount: Tiyn;
  txnId: string;
}

/**
 * What both billing kinds share: the check, the deadline on every answer (work that doesn't fit
 * goes on in the background and the caller gets 4, never 5 for a payment that may still be
 * credited), the replay of a stored answer, and the answer after an unexpected failure.
 */
export abstract class PaymentServiceBase {
  private readonly background = new Set<Promise<void>>();

  protected constructor(
    protected readonly db: Db,
    protected readonly payments: PaymentStore,
    private readonly lookup: (account: string) => Promise<Lookup>,
    protected readonly opts: PaymentServiceOptions,
  ) {}

  async check(account: string, startedAt?: bigint): Promise<CheckOutcome> {
    const lookup = this.lookup(account);
    const found = await raceDeadline(lookup, this.opts.deadlineMs, startedAt);
    if (found === TIMED_OUT) {
      lookup.catch(() => undefined); // a GET: nothing to finish, only its late failure to silence
      // The channel logs the failure, once, with this cause.
      throw new UpstreamError('billing_timeout', 'Billing unavailable, try again later', true, {
        cause: `no billing answer within the ${this.opts.deadlineMs} ms deadline`,
      });
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

  async drain(timeoutMs = 30_000): Promise<void> {
    if (this.background.size === 0) return;
    await raceDeadline(Promise.allSettled([...this.background]), timeoutMs);
    if (this.background.size > 0) {
      log.warn('stopped with payments still in progress; the retry job finishes them', {
        count: this.background.size,
      });
    }
  }

  /** The work's answer, or 4 at the deadline while the work goes on in the background. */
  protected async withinDeadline(
    work: Promise<PayOutcome>,
    progress: Progress,
    startedAt?: bigint,
  ): Promise<PayOutcome> {
    const done = await raceDeadline(work, this.opts.deadlineMs, startedAt);
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

  /** The replay reads the stored row; if the database went away meanwhile, that read fails too. */
  protected async replayOrFallback(req: PayRequest): Promise<PayOutcome> {
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
  protected async afterFailure(req: PayRequest, e: unknown): Promise<PayOutcome> {
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
