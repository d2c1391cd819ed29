import { Counter, Gauge, type Registry } from 'prom-client';
import { fromDbTime, type Db } from '../db/db.js';
import { coveredUntil } from './reconcile-coverage.js';

/** How an import (or a rerun) ends; `resolved` comes later, from the resolutions. */
export const RUN_ENDS = ['clean', 'discrepancies', 'failed'] as const;
export type RunEnd = (typeof RUN_ENDS)[number];

/** What this process counted (ReconcileService.runCounts()). */
export interface RunCounts {
  runCounts(): Readonly<Partial<Record<RunEnd, number>>>;
}

/**
 * The reconciliation's series beside the open/overdue/last-import gauges of src/metrics: runs
 * ended in this process by status (a counter per worker: sum over workers), the end of the latest
 * day a registry covers and the age of the oldest open action item (database, at scrape time).
 * docs/monitoring/reconcile.rules.yml alerts on them.
 */
export function reconcileMetrics(
  registry: Registry,
  db: Db,
  runs: RunCounts,
  offset: string,
): { refresh(now: Date): Promise<void> } {
  const registers = [registry];
  new Counter({
    name: 'gateway_reconcile_runs_total',
    help: 'Registry imports and reruns ended in this process, by status (clean, discrepancies, failed)',
    labelNames: ['status'],
    registers,
    collect() {
      this.reset();
      const counts = runs.runCounts();
      // Every status from 0, so increase() sees the first failure.
      for (const status of RUN_ENDS) this.inc({ status }, counts[status] ?? 0);
    },
  });
  const covered = new Gauge({
    name: 'gateway_reconcile_covered_until_timestamp_seconds',
    help: 'The end of the latest day (Kaspi time) a registry covers, Unix time (0: none yet)',
    registers,
  });
  const oldestAction = new Gauge({
    name: 'gateway_reconcile_oldest_open_action_age_seconds',
    help: 'Age of the oldest open reconciliation item a person must act on (0: none)',
    registers,
  });
  return {
    async refresh(now: Date): Promise<void> {
      const until = await coveredUntil(db, offset);
      covered.set(until ? Math.floor(until.getTime() / 1000) : 0);
      const row = (await db
        .knex('reconciliation_items')
        .where({ state: 'open', severity: 'action' })
        .min({ oldest: 'created_at' })
        .first()) as { oldest: string | null } | undefined;
      const t = fromDbTime(row?.oldest ?? null);
      oldestAction.set(t ? Math.max(0, (now.getTime() - t.getTime()) / 1000) : 0);
    },
  };
}
