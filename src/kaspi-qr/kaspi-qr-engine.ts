import { randomBytes } from 'node:crypto';
import { getLogger } from '../log/logger.js';
import { ping, purchaseStatus } from './kaspi-qr-calls.js';
import { decide, type Decision, type Reading, type StatusRules } from './kaspi-qr-status.js';
import { PAUSE_STATE, type KaspiQrService } from './kaspi-qr-service.js';
import type { Purchase } from './kaspi-qr-store.js';

const log = getLogger('kaspi-qr-engine');

/** While paused (-10000), Kaspi is asked again (health/ping) at most this often. */
const PAUSE_PROBE_MS = 30_000;
/**
 * A tick takes due purchases a batch at a time until none is left or TICK_BUDGET_MS has passed (the
 * next tick, 2 s later by default, carries on). One batch per tick capped the engine at 25 polls a
 * second whatever the number of open purchases: at 10 000 open, each was asked every ~400 s instead
 * of its StatusPollingInterval (bench/qr-engine.ts). PARALLEL matches the client agent's 16 sockets.
 */
const TICK_BUDGET_MS = 1_500;
const BATCH = 200;
const PARALLEL = 16;

export interface EngineRunContext {
  signal?: AbortSignal;
  /** How long a tick may go on taking batches (default TICK_BUDGET_MS; a test gives a slow machine more). */
  budgetMs?: number;
}

export interface EngineStats {
  polls: number;
  credits: number;
  errors: number;
}

/**
 * The status engine: run by the scheduler under its lease (one runner in the deployment), ticking
 * at KASPI_QR_POLL_CRON. Each tick takes the purchases whose own next poll is due, claims each with
 * one conditional UPDATE (a stale runner that lost the lease polls nothing twice), reads its status,
 * and carries out what kaspi-qr-status.ts decides. A Processed is credited through src/payments
 * (creditStored from awaiting_payment: once, whatever the number of polls or processes) BEFORE the
 * purchase is marked paid, so a process killed in between re-reads Processed and the credit call
 * finds it done (or pending, finished by the credit retry job). It also sweeps create attempts left
 * by a process that died while Kaspi was answering.
 */
export class KaspiQrEngine {
  readonly stats: EngineStats = { polls: 0, credits: 0, errors: 0 };
  private lastProbe = 0;

  constructor(
    private readonly service: KaspiQrService,
    private readonly rules: StatusRules,
  ) {}

  private get store() {
    return this.service.deps.store;
  }

  /** One tick. `now` is injectable so tests walk through deadlines without waiting. */
  async run(ctx: EngineRunContext = {}, now = new Date()): Promise<{ polled: number }> {
    if (await this.paused(now)) return { polled: 0 };
    await this.sweepAttempts(now);
    // Post-payment checks left by a dead process or a failed read (each made at once otherwise).
    await this.service.paidCheck.runDue(now);
    const deadline = Date.now() + (ctx.budgetMs ?? TICK_BUDGET_MS);
    let polled = 0;
    // A polled (or claimed elsewhere) purchase's next poll moves past `now`: no batch sees it twice.
    for (;;) {
      const due = await this.store.due(now, BATCH);
      const stop = await this.pollBatch(due, now, ctx, deadline);
      polled += stop.polled;
      if (stop.halted || due.length < BATCH) break;
    }
    return { polled };
  }

  /** Polls one batch PARALLEL at a time; halted when aborted, out of time or paused by Kaspi. */
  private async pollBatch(
    due: Purchase[],
    now: Date,
    ctx: EngineRunContext,
    deadline: number,
  ): Promise<{ polled: number; halted: boolean }> {
    let polled = 0;
    for (let i = 0; i < due.length; i += PARALLEL) {
      if (ctx.signal?.aborted || Date.now() >= deadline) return { polled, halted: true };
      const results = await Promise.all(due.slice(i, i + PARALLEL).map((p) => this.pollOne(p, now)));
      polled += results.filter(Boolean).length;
      if (await this.isPaused()) return { polled, halted: true };
    }
    return { polled, halted: false };
  }

  private async isPaused(): Promise<boolean> {
    return (await this.store.getState(PAUSE_STATE)) === 'auth_failed';
  }

  /** -10000 paused the engine: ping now and then; when Kaspi takes us again, go on. */
  private async paused(now: Date): Promise<boolean> {
    if (!(await this.isPaused())) return false;
    if (now.getTime() - this.lastProbe < PAUSE_PROBE_MS) return true;
    this.lastProbe = now.getTime();
    try {
      await ping(this.service.client);
    } catch {
      return true;
    }
    await this.store.setState(PAUSE_STATE, null);
    this.service.noteOk();
    log.info('kaspi qr: Kaspi accepts our credentials again: status engine resumed');
    return false;
  }

  /** Polls one purchase if it is still due and ours to poll; true when Kaspi was asked. */
  async pollOne(p: Purchase, now = new Date()): Promise<boolean> {
    const claim = randomBytes(8).toString('hex');
    // Held for every attempt of the GET and a margin: past that, another runner may take it up.
    const holdUntil = new Date(now.getTime() + this.service.settings.timeoutMs * 3 + 10_000);
    if (!(await this.store.claim(p.paymentId, now, holdUntil, claim))) return false;
    this.stats.polls += 1;
    let reading: Reading;
    try {
      reading = { status: await purchaseStatus(this.service.client, p.qrPaymentId) };
    } catch (e) {
      this.stats.errors += 1;
      reading = { error: e };
    }
    const d = decide(p, reading, now, this.rules);
    await this.carryOut(p, d, claim);
    return true;
  }

  private async carryOut(p: Purchase, d: Decision, claim: string): Promise<void> {
    const { payments, awaiting } = this.service.deps;
    if (d.log) log.log(d.log.level, d.log.message, d.log.fields);
    if (d.pause) {
      const was = await this.store.getState(PAUSE_STATE);
      await this.store.setState(PAUSE_STATE, d.pause);
      if (was !== d.pause)
        log.error('kaspi qr: Kaspi refused our credentials (-10000): status engine paused', {
          paymentId: p.paymentId,
          file: this.service.client.certFile,
        });
    }
    const patch = { ...d.patch };
    // Paid on r2/r3: payment/details once, due from this very write (a death before it leaves it due).
    if (d.credit && this.service.paidCheck.applies) patch.detailsDueAt = new Date();
    if (d.credit) {
      // The one exactly-once path; a throw (database down) leaves the purchase to be polled again.
      const out = await payments.creditStored(p.paymentId, ['awaiting_payment']);
      if (out.result === 0) this.stats.credits += out.created ? 1 : 0;
      else if (out.result !== 4) {
        patch.flag = 'credit_refused';
        log.error('kaspi qr: paid at Kaspi but the billing refused the credit: a person must act', {
          paymentId: p.paymentId,
          qrPaymentId: p.qrPaymentId,
          result: out.result,
          comment: out.comment,
        });
      }
    }
    if (d.decline) await awaiting.decline(p.paymentId, d.decline);
    if (!(await this.store.save(p.paymentId, claim, patch))) {
      log.debug('kaspi qr: poll outcome not saved: the purchase was taken up by another runner', {
        paymentId: p.paymentId,
      });
      return;
    }
    if (patch.detailsDueAt)
      // Still due if this fails: the engine's tick makes it.
      await this.service.paidCheck
        .checkOne(p.paymentId)
        .catch((e: unknown) =>
          log.warn('kaspi qr: post-payment check left to the next tick', { paymentId: p.paymentId, err: e }),
        );
  }

  /**
   * Attempts still `sending`/`answered` long after their request could have lasted: the process
   * died. `sending`: the answer is lost, nothing was shown, nothing is payable (lost, key freed).
   * `answered`: Kaspi gave an id but the payment row was not committed: its status is read; a
   * purchase nobody saw cannot be paid, and if Kaspi says otherwise a person is told.
   */
  private async sweepAttempts(now: Date): Promise<void> {
    const { attempts, store } = this.service.deps;
    const before = new Date(now.getTime() - (this.service.settings.timeoutMs * 3 + 60_000));
    for (const a of await attempts.stale(before)) {
      let status: string | null = null;
      if (a.state === 'answered' && a.qrPaymentId) {
        try {
          status = await purchaseStatus(this.service.client, a.qrPaymentId);
        } catch {
          continue; // asked again on the next tick
        }
      }
      const moved = await attempts.finish(a.externalId, [a.state], 'lost', {
        error: status ? `left by a dead process; Kaspi status ${status}` : 'left by a dead process',
      });
      if (!moved) continue;
      await store.releaseKey(a.idemKey);
      if (status === 'Processed')
        log.error('kaspi qr: a purchase with no payment row was paid at Kaspi: a person must credit it', {
          externalId: a.externalId,
          qrPaymentId: a.qrPaymentId,
          account: a.account,
        });
      else
        log.warn('kaspi qr: create attempt left by a dead process: nothing payable', {
          externalId: a.externalId,
          qrPaymentId: a.qrPaymentId,
          status,
        });
    }
  }
}
