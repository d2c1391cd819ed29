import { AppError } from '../shared/errors.js';
import { getLogger } from '../log/logger.js';
import { RefundApiError, type RefundAnswer } from './refund-api-client.js';
import { nextPollAt } from './refund-schedule.js';
import type { RefundSettlement } from './refund-settlement.js';
import {
  KASPI_STATUS,
  MOVABLE_STATUSES as MOVABLE,
  type Refund,
  type RefundPatch,
  type RefundStore,
} from './refund-store.js';

const log = getLogger('refunds');

export type RefundCall = 'RefundRequest' | 'RefundStatus';

/**
 * What an answer of Kaspi's Refund API (or its absence) does to a refund: a final status goes to the
 * settlement, anything else moves the refund on, schedules the next poll, or stops it for a person.
 */
export class RefundAnswers {
  constructor(
    private readonly store: RefundStore,
    private readonly settlement: RefundSettlement,
    private readonly backoffMs: number,
  ) {}

  /** What Kaspi's answer means for the refund: `error.code` first, then `statusCode`. */
  async apply(refund: Refund, a: RefundAnswer, call: RefundCall): Promise<void> {
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
        return this.settlement.finish(refund, a.statusCode === 3 ? 'failed' : 'declined', {
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
      return this.settlement.finish(refund, status, { ...kaspi, requestIdentificator: rid });
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

  /** The call failed: asked again later; a refusal that needs a person (bad credentials...) says so. */
  async noAnswer(refund: Refund, e: unknown): Promise<void> {
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

  /** Polling stops and a person is asked: the answer leaves nothing an automaton could do. */
  async stopAndFlag(refund: Refund, a: RefundAnswer, reason: string): Promise<void> {
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

  private nextPoll(refund: Refund): string {
    return nextPollAt(refund, this.backoffMs);
  }
}
