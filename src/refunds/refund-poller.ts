import { getLogger } from '../log/logger.js';
import type { RefundService } from './refund-service.js';
import type { RefundStore } from './refund-store.js';

const log = getLogger('refund-poller');

/** What the scheduler hands a run: the same shape as its JobContext. */
export interface PollContext {
  signal?: AbortSignal;
  /** False once the lease went to someone else: stop before the next refund. */
  stillOwner?(): Promise<boolean>;
}

export interface PollRun {
  polled: number;
  failed: number;
  stoppedEarly: boolean;
}

export interface PollerOptions {
  batchSize?: number;
  /** A run ends after this many polls, so one tick never grows without bound. */
  maxPerRun?: number;
  /** Lease checked every so many polls. */
  ownerCheckEvery?: number;
}

/**
 * Follows every refund that is not final: files again those Kaspi never answered, asks the status
 * of the rest, each on its own backoff. Runs under the scheduler's lease, so one poller works in
 * the whole deployment; one refund at a time, so Kaspi sees a calm client.
 */
export class RefundPoller {
  private readonly batchSize: number;
  private readonly maxPerRun: number;
  private readonly ownerCheckEvery: number;

  constructor(
    private readonly store: RefundStore,
    private readonly service: RefundService,
    opts: PollerOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 100;
    this.maxPerRun = opts.maxPerRun ?? 1000;
    this.ownerCheckEvery = opts.ownerCheckEvery ?? 10;
  }

  async runOnce(ctx: PollContext = {}): Promise<PollRun> {
    const run: PollRun = { polled: 0, failed: 0, stoppedEarly: false };
    const seen = new Set<string>();
    const started = Date.now();
    outer: while (run.polled < this.maxPerRun) {
      const due = (await this.store.due(new Date(), this.batchSize)).filter((r) => !seen.has(r.id));
      if (due.length === 0) break;
      for (const refund of due) {
        if (ctx.signal?.aborted || run.polled >= this.maxPerRun) {
          run.stoppedEarly = true;
          break outer;
        }
        if (
          run.polled > 0 &&
          run.polled % this.ownerCheckEvery === 0 &&
          ctx.stillOwner &&
          !(await ctx.stillOwner())
        ) {
          log.warn('refund poller lost its lease: stopping this run');
          run.stoppedEarly = true;
          break outer;
        }
        seen.add(refund.id);
        run.polled += 1;
        try {
          await this.service.poll(refund);
          await this.service.flagIfTooOld(refund);
        } catch (e) {
          run.failed += 1;
          log.error('refund poll failed', { refundId: refund.id, err: e });
        }
      }
    }
    if (run.polled > 0) log.info('refund poll run', { ...run, durationMs: Date.now() - started });
    return run;
  }
}

/**
 * The poller as a scheduler job (src/jobs/jobs.ts lists it). The lease outlives a slow tick: the
 * scheduler renews it while the run lasts, and a tick that finds it held elsewhere is skipped.
 */
export function refundPollJob(poller: RefundPoller, cron: string) {
  return {
    name: 'refund-poll',
    cron,
    leaseMs: 120_000,
    async run(ctx: PollContext): Promise<void> {
      await poller.runOnce(ctx);
    },
  };
}
