import type { JobContext } from '../jobs/scheduler.js';
import { getLogger } from '../log/logger.js';
import type { PaymentService } from './payment-service.js';
import type { PaymentStore, UnfinishedCredits } from './payment-store.js';

const log = getLogger('credit-retry');

export interface CreditRetryOptions {
  /** Due credits read per query. */
  batchSize: number;
  /** A credit not final after this long is logged at ERROR: a person must look. */
  stuckAfterMs: number;
  /** Stop a run after this many credits in a row stayed in doubt: the billing is down, don't hammer it. */
  giveUpAfterDoubts?: number;
  /** The same stuck list is logged again at most this often (per process). */
  stuckReportEveryMs?: number;
}

/**
 * Finishes every credit left in doubt: pending after a transient billing failure, or claimed by a
 * process that died or stalled mid-call (its claim ran out). Runs under the scheduler's lease; each
 * payment is also claimed on its own row, so even a stale runner never sends a credit another is
 * sending. The Idempotency-Key makes a repeat of a credit the billing already applied harmless.
 */
export class CreditRetryJob {
  private lastReport = { key: '', at: 0 };
  private summary: UnfinishedCredits | null = null;

  constructor(
    private readonly payments: PaymentService,
    private readonly store: PaymentStore,
    private readonly opts: CreditRetryOptions,
  ) {}

  async run(ctx: JobContext): Promise<void> {
    const giveUpAfter = this.opts.giveUpAfterDoubts ?? 5;
    let sent = 0;
    let credited = 0;
    let refused = 0;
    let doubtsInARow = 0;
    runLoop: for (;;) {
      const due = await this.store.findDue(this.opts.batchSize);
      for (const d of due) {
        if (ctx.signal.aborted) break runLoop;
        const out = await this.payments.retryCredit(d);
        if (!out) continue; // someone else claimed it first
        sent += 1;
        if (out.result === 4) {
          doubtsInARow += 1;
          if (doubtsInARow >= giveUpAfter) {
            log.warn('billing still unavailable; the other due credits wait for the next run', { sent });
            break runLoop;
          }
        } else {
          doubtsInARow = 0;
          if (out.result === 0) credited += 1;
          else refused += 1;
        }
      }
      if (due.length < this.opts.batchSize || !(await ctx.stillOwner())) break;
    }
    if (sent > 0)
      log.info('pending credits retried', { sent, credited, refused, inDoubt: sent - credited - refused });
    await this.reportStuck();
  }

  /** What the last run saw, for /metrics (pending credits, oldest pending age, stuck ones). */
  lastSummary(): UnfinishedCredits | null {
    return this.summary;
  }

  private async reportStuck(): Promise<void> {
    const u = await this.store.unfinishedCredits(this.opts.stuckAfterMs);
    this.summary = u;
    if (u.stuckCount === 0) {
      this.lastReport = { key: '', at: 0 };
      return;
    }
    const key = `${u.stuckCount}:${u.stuck.map((p) => p.id).join(',')}`;
    const every = this.opts.stuckReportEveryMs ?? 15 * 60_000;
    if (key === this.lastReport.key && Date.now() - this.lastReport.at < every) return;
    this.lastReport = { key, at: Date.now() };
    log.error('credits stuck: not final long after they were received; a person must look at the billing', {
      stuckCount: u.stuckCount,
      stuckAfterMs: this.opts.stuckAfterMs,
      oldestReceivedAt: u.oldestReceivedAt,
      payments: u.stuck.map((p) => ({
        prvTxn: p.id,
        source: p.source,
        txnId: p.txnId,
        account: p.account,
        amount: p.amount,
        state: p.state,
        attempts: p.attempts,
        lastError: p.lastError,
        receivedAt: p.receivedAt,
      })),
    });
  }
}
