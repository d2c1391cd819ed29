import type { RequestLog } from '../http/request-log.js';
import { getLogger } from '../log/logger.js';

const log = getLogger('jetpay');

/**
 * Says when a callback keeps getting HTTP 500 (its credit in doubt) for longer than
 * RETRY_STUCK_AFTER_MS. With the embedded billing such a payment stays `awaiting_callback`, so the
 * credit-retry job's stuck report never sees it; and the Gate platform stops redelivering after a
 * while. How long is read from the request log (our own record of every answer, written by every
 * process), not from memory: the redeliveries of one callback reach any worker of any host.
 */
export class StuckCallbackWatch {
  constructor(
    private readonly requestLog: RequestLog,
    private readonly stuckAfterMs: number,
  ) {}

  /** Called once a callback has been answered 500; checks off the answer's path. */
  answered500(paymentId: string): void {
    this.check(paymentId).catch((err: unknown) => {
      log.warn('could not tell how long a jetpay callback has been answered 500', { paymentId, err });
    });
  }

  private async check(paymentId: string): Promise<void> {
    const first = await this.requestLog.firstAnswer('jetpay', 'callback', paymentId, 500);
    if (!first) return; // the first 500 of this callback
    const inDoubtMs = Date.now() - first.at.getTime();
    if (inDoubtMs < this.stuckAfterMs) return;
    // One line per redelivery past the limit: the Gate platform spaces them out, each says it is still stuck.
    log.error(
      'jetpay callback keeps getting 500: its credit is in doubt past RETRY_STUCK_AFTER_MS, a person must look at the billing',
      {
        paymentId,
        firstAnswered500At: first.at.toISOString(),
        answers500Logged: first.count,
        inDoubtMs,
        stuckAfterMs: this.stuckAfterMs,
      },
    );
  }
}
