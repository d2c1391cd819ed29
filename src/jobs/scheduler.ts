import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import cron, { type ScheduledTask } from 'node-cron';
import type { Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import { LeaseStore, type Lease } from './lease-store.js';

const log = getLogger('jobs');

export interface JobContext {
  /** Grows on every take of the lease: write it beside side effects that must not come from a stale runner. */
  fencingToken: string;
  /** Aborted on stop() or when the lease is lost: stop at the next safe point. */
  signal: AbortSignal;
  /** Asks the database whether the lease is still ours (before an irreversible step). */
  stillOwner(): Promise<boolean>;
}

export interface JobDefinition {
  name: string;
  cron: string;
  /** How long a run may go without renewing; renewed every third of it while the run lasts. */
  leaseMs: number;
  run(ctx: JobContext): Promise<void>;
}

export interface JobStats {
  runs: number;
  failures: number;
  /** Ticks that found the lease held elsewhere or a run still going here. */
  skipped: number;
  running: boolean;
  lastDurationMs: number | null;
  lastError: string | null;
  lastFinishedAt: Date | null;
}

export interface SchedulerOptions {
  /** Names this process in the lease table; unique per process by default. */
  owner?: string;
  /** stop() waits this long for a running job before leaving its lease to expire. */
  stopTimeoutMs?: number;
}

/**
 * Every cron job runs through here. node-cron fires the tick in every worker of every host; the
 * lease row in the database lets one of them run it, never two at once (a tick that finds the
 * lease held, or its own previous run still going, is skipped). A runner that dies stops renewing,
 * its lease expires by the database's clock, and the next tick anywhere takes it over with a
 * higher fencing token.
 */
export class Scheduler {
  readonly owner: string;
  private readonly leases: LeaseStore;
  private readonly stopTimeoutMs: number;
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Map<string, Promise<boolean>>();
  private readonly controllers = new Map<string, AbortController>();
  private readonly jobStats = new Map<string, JobStats>();
  private stopped = false;

  constructor(db: Db, opts: SchedulerOptions = {}) {
    this.leases = new LeaseStore(db);
    this.owner = (opts.owner ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`).slice(
      0,
      200,
    );
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
  }

  register(job: JobDefinition): void {
    if (this.jobs.has(job.name)) throw new Error(`job "${job.name}" is registered twice`);
    if (!cron.validate(job.cron))
      throw new Error(`job "${job.name}": "${job.cron}" is not a cron expression`);
    if (!(job.leaseMs >= 1000)) throw new Error(`job "${job.name}": leaseMs must be at least 1000`);
    this.jobs.set(job.name, job);
    this.jobStats.set(job.name, {
      runs: 0,
      failures: 0,
      skipped: 0,
      running: false,
      lastDurationMs: null,
      lastError: null,
      lastFinishedAt: null,
    });
  }

  /** Schedules every registered job in this process. */
  start(): void {
    this.stopped = false;
    if (this.tasks.length > 0) return;
    for (const job of this.jobs.values()) {
      this.tasks.push(cron.schedule(job.cron, () => this.tick(job.name)));
    }
    log.info('jobs scheduled', {
      owner: this.owner,
      jobs: [...this.jobs.values()].map((j) => `${j.name} (${j.cron})`),
    });
  }

  /** Stops the crons, aborts a running job and waits for it (bounded), which releases its lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.tasks.splice(0)) await t.destroy();
    for (const c of this.controllers.values()) c.abort(new Error('scheduler stopping'));
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled([...this.running.values()]).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut)
      log.warn('a job did not stop in time; its lease expires by itself', { jobs: [...this.running.keys()] });
  }

  /**
   * One tick now. Resolves true when the job ran here, false when the lease was held elsewhere, a
   * run of it is still going in this process, or the scheduler is stopped. Rejects with the job's
   * error (also logged) so a CLI or test sees it.
   */
  async runNow(name: string): Promise<boolean> {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no job named "${name}"`);
    const stats = this.jobStats.get(name) as JobStats;
    if (this.stopped || this.running.has(name)) {
      stats.skipped += 1;
      return false;
    }
    const run = this.runOnce(job, stats);
    this.running.set(name, run);
    try {
      return await run;
    } finally {
      this.running.delete(name);
    }
  }

  jobNames(): string[] {
    return [...this.jobs.keys()];
  }

  /** In-process figures per job, for /metrics. */
  stats(): Record<string, Readonly<JobStats>> {
    return Object.fromEntries(
      [...this.jobStats].map(([k, v]) => [k, { ...v, running: this.running.has(k) }]),
    );
  }

  private tick(name: string): void {
    if (this.running.has(name)) log.debug('previous run still going; tick skipped', { job: name });
    // Failures are logged where they happen; a tick has nobody to report to.
    this.runNow(name).catch(() => undefined);
  }

  private async runOnce(job: JobDefinition, stats: JobStats): Promise<boolean> {
    let lease: Lease | null;
    try {
      lease = await this.leases.acquire(job.name, this.owner, job.leaseMs);
    } catch (e) {
      log.warn('job tick skipped: the lease could not be read', { job: job.name, err: e });
      throw e;
    }
    if (!lease) {
      stats.skipped += 1;
      return false;
    }
    const held = lease;
    const controller = new AbortController();
    this.controllers.set(job.name, controller);
    const renewal = this.keepRenewed(job, held, controller);
    const started = performance.now();
    let failure: unknown = null;
    try {
      await job.run({
        fencingToken: held.fencingToken,
        signal: controller.signal,
        stillOwner: () => this.leases.isHeld(held),
      });
    } catch (e) {
      failure = e;
    } finally {
      renewal.stop();
      this.controllers.delete(job.name);
    }
    const durationMs = performance.now() - started;
    stats.runs += 1;
    stats.lastDurationMs = durationMs;
    stats.lastFinishedAt = new Date();
    stats.lastError = failure === null ? null : errorText(failure);
    if (failure !== null) {
      stats.failures += 1;
      if (controller.signal.aborted) {
        log.warn('job stopped before finishing', {
          job: job.name,
          reason: errorText(controller.signal.reason),
          durationMs,
        });
      } else {
        log.error('job failed', { job: job.name, err: failure, durationMs, lease: held.fencingToken });
      }
    } else {
      log.debug('job done', { job: job.name, durationMs, lease: held.fencingToken });
    }
    try {
      await this.leases.release(held, { durationMs, error: stats.lastError });
    } catch (e) {
      log.warn('lease not released; it expires by itself', { job: job.name, err: e });
    }
    if (failure !== null) throw failure;
    return true;
  }

  /** Renews every third of leaseMs; a renewal that finds the lease taken over aborts the run. */
  private keepRenewed(job: JobDefinition, lease: Lease, controller: AbortController): { stop(): void } {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const schedule = () => {
      timer = setTimeout(() => void renew(), Math.max(250, Math.floor(job.leaseMs / 3)));
      timer.unref();
    };
    const renew = async () => {
      try {
        const renewed = await this.leases.renew(lease, job.leaseMs);
        if (stopped) return;
        if (!renewed) {
          log.warn('job lease lost to another runner; stopping this run', {
            job: job.name,
            lease: lease.fencingToken,
          });
          controller.abort(new Error('lease lost'));
          return;
        }
      } catch (e) {
        log.warn('job lease not renewed (database unavailable); will retry', { job: job.name, err: e });
      }
      if (!stopped) schedule();
    };
    schedule();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
