import type { Actor } from '../audit/audit-log.js';
import { getLogger } from '../log/logger.js';
import { addBusinessDays, addDays, endOfDay, isBusinessDay, kaspiIso, wallAt } from './reconcile-calendar.js';
import { coveredDays, firstNotice } from './reconcile-coverage.js';
import type { HeldRecords } from './reconcile-held.js';
import type { Resolutions } from './reconcile-resolve.js';
import type { StoredItem } from './reconcile-store.js';
import type { ReconcileDeps } from './reconcile-types.js';

const log = getLogger('reconcile');

/** How far back RECONCILE_EXPECT_DAILY looks for a business day no registry covers. */
const EXPECT_LOOKBACK_DAYS = 7;

export interface WatchResult {
  closed: number;
  escalated: number;
  overdue: number;
  /** True when this run logged the day's summary ERROR of the items still overdue. */
  overdueSummary: boolean;
  failedRuns: number;
  /** Business days past their warning time with no registry (RECONCILE_EXPECT_DAILY only). */
  missingDays: string[];
}

/**
 * The reconcile-watch job (registries-seed-notes §1.9 "The watch job"), under the scheduler's lease:
 * closes what healed, escalates watch items past their grace, logs overdue items once, fails runs
 * stuck in `running` (a process killed mid-import), and, with RECONCILE_EXPECT_DAILY, tells a person
 * of a business day no registry covers: WARN after the end of the next business day, ERROR after the
 * end of the one after (each once: a notice key decides).
 */
export class ReconcileWatch {
  constructor(
    private readonly deps: ReconcileDeps,
    private readonly held: HeldRecords,
    private readonly resolutions: Resolutions,
  ) {}

  async watch(now = new Date()): Promise<WatchResult> {
    const store = this.deps.store;
    const system: Actor = { id: 'system', ip: null };
    const out: WatchResult = {
      closed: 0,
      escalated: 0,
      overdue: 0,
      overdueSummary: false,
      failedRuns: 0,
      missingDays: [],
    };
    const today = wallAt(now, this.deps.settings.offset).slice(0, 8);
    /** Overdue items whose own ERROR was logged on an earlier day (Kaspi time): the day's summary. */
    const stillOverdue: StoredItem[] = [];
    for (const r of await store.stuckRuns(new Date(now.getTime() - 15 * 60_000))) {
      await store.failRun(r.id, { code: 'stuck', message: 'the import did not finish (process stopped?)' });
      log.warn('a registry import stuck in running was set failed', { runId: r.id });
      out.failedRuns++;
    }
    for (const i of await store.items({ state: 'open' })) {
      const healed = await this.healed(i);
      if (healed) {
        const done = await this.resolutions
          .close(i, 'auto_closed', null, healed, system, {})
          .catch(() => null);
        if (done) out.closed++;
        continue;
      }
      if (i.severity === 'watch' && i.escalateAt && Date.parse(i.escalateAt) <= now.getTime()) {
        await store.updateItem(i.id, {
          severity: 'action',
          detail: { ...i.detail, escalatedAt: now.toISOString() },
        });
        log.error('a watched reconciliation item needs a person', {
          itemId: i.id,
          class: i.class,
          txnId: i.txnId,
        });
        out.escalated++;
        continue;
      }
      if (i.severity === 'action' && i.dueAt && Date.parse(i.dueAt) < now.getTime()) {
        out.overdue++;
        const loggedOn = i.overdueLoggedAt && wallAt(new Date(i.overdueLoggedAt), this.deps.settings.offset);
        if (loggedOn && loggedOn.slice(0, 8) < today) stillOverdue.push(i);
        if (!i.overdueLoggedAt) {
          log.error('a reconciliation item is overdue', {
            itemId: i.id,
            class: i.class,
            txnId: i.txnId,
            dueAt: i.dueAt,
          });
          await store.updateItem(i.id, { overdueLoggedAt: now });
        }
      }
    }
    if (stillOverdue.length > 0)
      out.overdueSummary = await this.overdueSummary(today, stillOverdue, out.overdue);
    if (this.deps.settings.expectDaily) out.missingDays = await this.missingRegistries(now);
    return out;
  }

  /**
   * One ERROR a day (Kaspi time) while items stay overdue, after each one's own first ERROR: the
   * notice key of the day decides, so two workers (or a run repeated) log it once.
   */
  private async overdueSummary(today: string, still: StoredItem[], overdue: number): Promise<boolean> {
    if (!(await firstNotice(this.deps.db, `overdue-summary:${today}`))) return false;
    const byClass: Record<string, number> = {};
    for (const i of still) byClass[i.class] = (byClass[i.class] ?? 0) + 1;
    const earliest = still.map((i) => i.dueAt as string).sort((a, b) => Date.parse(a) - Date.parse(b))[0];
    log.error('reconciliation items are still overdue: npm run cli -- reconcile todo', {
      overdue,
      stillOverdue: still.length,
      byClass,
      earliestDueAt: kaspiIso(earliest ?? null, this.deps.settings.offset),
      itemIds: still.slice(0, 20).map((i) => i.id),
    });
    return true;
  }

  private async healed(i: StoredItem): Promise<string | null> {
    const ps = this.deps.paymentStore;
    if ((i.class === 'PENDING_OURS' || i.class === 'MISSING_OURS' || i.class === 'REFUSED_OURS') && i.txnId) {
      const p = i.paymentId ? await ps.findById(i.paymentId) : await ps.findByTxn('kaspi', i.txnId);
      if (p?.state === 'credited' && (i.class === 'PENDING_OURS' || i.detail.credit)) return 'credited';
    }
    // A refund filed by the `refund` resolution, or ours that was pending: closed once it is success.
    const refund = i.detail.refund as { refundId?: string } | undefined;
    const refundId =
      i.class === 'REFUSED_OURS' ? refund?.refundId : i.class === 'REFUND_PENDING_OURS' ? i.refundId : null;
    if (refundId && (await this.held.refundStatuses([refundId])).get(refundId)?.status === 'success')
      return 'refund success';
    if ((i.class === 'MISSING_KASPI' || i.class === 'PENDING_NOT_LISTED') && i.txnId) {
      const run = await this.deps.store.getRun(i.runId);
      if (run && (await this.held.listedElsewhere(i.txnId, run.fileId))) return 'listed by a later registry';
    }
    return null;
  }

  /** The business days of the last week that no registry covers and whose warning time has passed. */
  private async missingRegistries(now: Date): Promise<string[]> {
    const { db, settings: s } = this.deps;
    const today = wallAt(now, s.offset).slice(0, 8);
    const from = addDays(today, -EXPECT_LOOKBACK_DAYS);
    const covered = await coveredDays(db, from, addDays(today, -1));
    const missing: string[] = [];
    for (let d = from; d < today; d = addDays(d, 1)) {
      if (!isBusinessDay(d, s.holidays) || covered.has(d)) continue;
      const warnAt = Date.parse(endOfDay(addBusinessDays(d, 1, s.holidays), s.offset));
      const errorAt = Date.parse(endOfDay(addBusinessDays(d, 2, s.holidays), s.offset));
      if (now.getTime() < warnAt) continue;
      missing.push(d);
      if (now.getTime() >= errorAt) {
        if (await firstNotice(db, `registry-missing:${d}:error`))
          log.error('no Kaspi registry covers a business day: ask Kaspi for it, then import it', { day: d });
      } else if (await firstNotice(db, `registry-missing:${d}:warn`))
        log.warn('no Kaspi registry covers a business day yet', { day: d });
    }
    return missing;
  }
}
