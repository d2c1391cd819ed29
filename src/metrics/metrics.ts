import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { dbTime, fromDbTime, type Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import { PENDING_STATUSES, REFUND_STATUSES } from '../refunds/refund-store.js';

const log = getLogger('metrics');

/**
 * A pay still in `received`/`crediting` past this is no longer owned by a live request (answers are
 * due within PAY_DEADLINE_MS): it is a credit someone, or the retry job, must finish.
 */
const STUCK_AFTER_MS = 15_000;
const SCRAPE_DB_TIMEOUT_MS = 2_000;

export interface MetricsOptions {
  /** RETRY_STUCK_AFTER_MS, served as gateway_credit_stuck_after_seconds for the alert rules. */
  stuckAfterMs?: number;
}

/** What the scheduler tells about its jobs (src/jobs/scheduler.ts `stats()`). */
export interface JobStatsSource {
  stats(): Record<
    string,
    {
      runs: number;
      failures: number;
      skipped: number;
      running: boolean;
      lastDurationMs: number | null;
      lastFinishedAt: Date | null;
    }
  >;
}

/**
 * Prometheus metrics of one process. Request counters and the latency histogram live in memory and
 * cost the pay path no query; the database gauges (pending credits, refunds, oldest pending item)
 * are computed when /metrics is scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'endpoint' | 'status' | 'result'>;
  private readonly latency: Histogram<'endpoint'>;
  private readonly pendingCredits: Gauge;
  private readonly oldestPending: Gauge<'kind'>;
  private readonly refunds: Gauge<'status'>;
  private readonly refundsFlagged: Gauge;
  private readonly dbUp: Gauge;
  private refundsTable = false;
  private reconcileTables = false;
  private readonly reconcileOpen: Gauge<'severity' | 'class'>;
  private readonly reconcileOverdue: Gauge;
  private readonly reconcileLastImport: Gauge;
  private processMetrics = false;
  private readonly extraGauges: ((now: Date) => Promise<void>)[] = [];

  constructor(
    private readonly db: Db,
    opts: MetricsOptions = {},
  ) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered on the public listener, by endpoint, HTTP status and protocol result',
      labelNames: ['endpoint', 'status', 'result'],
      registers,
    });
    this.latency = new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Time from request to answer on the public listener',
      labelNames: ['endpoint'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers,
    });
    this.reconcileOpen = new Gauge({
      name: 'gateway_reconcile_open_items',
      help: 'Open reconciliation items, by severity and class',
      labelNames: ['severity', 'class'],
      registers,
    });
    this.reconcileOverdue = new Gauge({
      name: 'gateway_reconcile_overdue_items',
      help: 'Open action items of the reconciliation past their due time',
      registers,
    });
    this.reconcileLastImport = new Gauge({
      name: 'gateway_reconcile_last_import_timestamp_seconds',
      help: 'When the last registry was imported (0: never)',
      registers,
    });
    this.pendingCredits = new Gauge({
      name: 'gateway_pending_credits',
      help: 'Payments whose credit is not finished: pending, or received/crediting for over 15 s',
      registers,
    });
    this.oldestPending = new Gauge({
      name: 'gateway_oldest_pending_age_seconds',
      help: 'Age of the oldest unfinished item: kind=payment (pending credit), kind=refund (waiting on Kaspi)',
      labelNames: ['kind'],
      registers,
    });
    this.refunds = new Gauge({
      name: 'gateway_refunds',
      help: 'Refunds by status',
      labelNames: ['status'],
      registers,
    });
    this.refundsFlagged = new Gauge({
      name: 'gateway_refunds_flagged',
      help: 'Refunds flagged for a person (until resumed)',
      registers,
    });
    // The alert rules compare the oldest pending credit's age with this, so they follow the config.
    new Gauge({
      name: 'gateway_credit_stuck_after_seconds',
      help: 'RETRY_STUCK_AFTER_MS in seconds: a pending credit older than this needs a person',
      registers,
    }).set((opts.stuckAfterMs ?? 3_600_000) / 1000);
    this.dbUp = new Gauge({
      name: 'gateway_metrics_database_up',
      help: '1 when the database answered this scrape; 0 means the database gauges are stale',
      registers,
    });
  }

  /** A capability's own database gauges (Kaspi QR), refreshed with the others at scrape time. */
  addDatabaseGauges(refresh: (now: Date) => Promise<void>): void {
    this.extraGauges.push(refresh);
  }

  /** gateway_oldest_pending_age_seconds for another kind (kind="kaspi_qr": the oldest open purchase). */
  setOldestPending(kind: string, seconds: number): void {
    this.oldestPending.set({ kind }, seconds);
  }

  /**
   * Job figures, read from the scheduler at scrape time. Per process: only the worker holding a
   * job's lease runs it, so sum over workers (or take the max of the timestamps).
   */
  watchJobs(source: JobStatsSource): void {
    const registers = [this.registry];
    const each = (fn: (job: string, s: ReturnType<JobStatsSource['stats']>[string]) => void) => {
      for (const [job, s] of Object.entries(source.stats())) fn(job, s);
    };
    const counter = (
      name: string,
      help: string,
      pick: (s: ReturnType<JobStatsSource['stats']>[string]) => number,
    ) =>
      new Counter({
        name,
        help,
        labelNames: ['cron_job'],
        registers,
        collect() {
          this.reset();
          each((job, s) => this.inc({ cron_job: job }, pick(s)));
        },
      });
    counter('gateway_job_runs_total', 'Job runs in this process (under the lease)', (s) => s.runs);
    counter('gateway_job_failures_total', 'Job runs that failed in this process', (s) => s.failures);
    counter(
      'gateway_job_skipped_total',
      'Ticks skipped: lease held elsewhere or previous run going',
      (s) => s.skipped,
    );
    new Gauge({
      name: 'gateway_job_last_duration_seconds',
      help: 'Duration of the last run in this process',
      labelNames: ['cron_job'],
      registers,
      collect() {
        each((job, s) => {
          if (s.lastDurationMs !== null) this.set({ cron_job: job }, s.lastDurationMs / 1000);
        });
      },
    });
    new Gauge({
      name: 'gateway_job_last_finished_timestamp_seconds',
      help: 'When the last run in this process finished (Unix time)',
      labelNames: ['cron_job'],
      registers,
      collect() {
        each((job, s) => {
          if (s.lastFinishedAt) this.set({ cron_job: job }, s.lastFinishedAt.getTime() / 1000);
        });
      },
    });
    new Gauge({
      name: 'gateway_job_running',
      help: '1 while a run is going in this process',
      labelNames: ['cron_job'],
      registers,
      collect() {
        each((job, s) => this.set({ cron_job: job }, s.running ? 1 : 0));
      },
    });
  }

  /** Process metrics (CPU, memory, event loop lag, GC): once, in the real service only. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(endpoint: string, status: number | string, result: string, seconds: number): void {
    this.requests.inc({ endpoint, status: String(status), result });
    this.latency.observe({ endpoint }, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(now = new Date()): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.refreshDatabaseGauges(now),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('database gauges timed out')), SCRAPE_DB_TIMEOUT_MS);
        }),
      ]);
      this.dbUp.set(1);
    } catch (err) {
      // /healthz already says the database is down; the scrape still answers with what it has.
      log.warn('metrics scrape without database gauges', { err });
      this.dbUp.set(0);
    } finally {
      clearTimeout(timer);
    }
    return this.registry.metrics();
  }

  private async refreshReconcileGauges(now: Date): Promise<void> {
    const knex = this.db.knex;
    if (!this.reconcileTables) this.reconcileTables = await knex.schema.hasTable('reconciliation_items');
    if (!this.reconcileTables) return;
    const open = (await knex('reconciliation_items')
      .where('state', 'open')
      .groupBy('severity', 'class')
      .select('severity', 'class')
      .count({ n: '*' })) as { severity: string; class: string; n: number | string }[];
    this.reconcileOpen.reset();
    for (const r of open) this.reconcileOpen.set({ severity: r.severity, class: r.class }, Number(r.n));
    const overdue = (await knex('reconciliation_items')
      .where({ state: 'open', severity: 'action' })
      .where('due_at', '<', dbTime(now))
      .count({ n: '*' })
      .first()) as { n: number | string } | undefined;
    this.reconcileOverdue.set(Number(overdue?.n ?? 0));
    const last = (await knex('reconciliation_runs')
      .whereNot('status', 'failed')
      .max({ t: 'started_at' })
      .first()) as { t: string | null } | undefined;
    const t = fromDbTime(last?.t ?? null);
    this.reconcileLastImport.set(t ? Math.floor(t.getTime() / 1000) : 0);
  }

  private async refreshDatabaseGauges(now: Date): Promise<void> {
    const knex = this.db.knex;
    const stuckBefore = dbTime(new Date(now.getTime() - STUCK_AFTER_MS));
    const row = (await knex('payments')
      .where('state', 'pending')
      .orWhere((q) => q.whereIn('state', ['received', 'crediting']).andWhere('updated_at', '<', stuckBefore))
      .count({ n: '*' })
      .min({ oldest: 'received_at' })
      .first()) as { n: number | string; oldest: string | null } | undefined;
    this.pendingCredits.set(Number(row?.n ?? 0));
    this.oldestPending.set({ kind: 'payment' }, ageSeconds(row?.oldest ?? null, now));
    for (const refresh of this.extraGauges) await refresh(now);

    await this.refreshReconcileGauges(now);
    // Guarded: an older schema (before the refunds migration ran) simply has no refunds to count.
    if (!this.refundsTable) this.refundsTable = await knex.schema.hasTable('refunds');
    if (!this.refundsTable) return;
    const byStatus = (await knex('refunds').select('status').count({ n: '*' }).groupBy('status')) as {
      status: string;
      n: number | string;
    }[];
    const counts = new Map<string, number>(REFUND_STATUSES.map((s) => [s, 0]));
    for (const r of byStatus) counts.set(String(r.status), Number(r.n));
    for (const [status, n] of counts) this.refunds.set({ status }, n);
    const flagged = (await knex('refunds').whereNotNull('flagged_at').count({ n: '*' }).first()) as
      { n: number | string } | undefined;
    this.refundsFlagged.set(Number(flagged?.n ?? 0));
    // Waiting on Kaspi: the statuses the poller follows. `fatal` waits on a person and has its own alert.
    const waiting = (await knex('refunds')
      .whereIn('status', PENDING_STATUSES)
      .min({ oldest: 'created_at' })
      .first()) as { oldest: string | null } | undefined;
    this.oldestPending.set({ kind: 'refund' }, ageSeconds(waiting?.oldest ?? null, now));
  }
}

function ageSeconds(oldest: string | null, now: Date): number {
  const t = fromDbTime(oldest);
  return t ? Math.max(0, (now.getTime() - t.getTime()) / 1000) : 0;
}
