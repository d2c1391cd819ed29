import { dbTime, type Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';

const log = getLogger('retention');

/** Disputes with Kaspi come weeks later: the request log is never kept for less. */
export const MIN_RETENTION_DAYS = 30;
/** SQLite's batch and pause: a few ms of lock per delete, the event loop free between them. */
const SQLITE_BATCH = 200;
const SQLITE_PAUSE_MS = 10;

export interface PurgeOptions {
  /** Rows per DELETE: short statements keep row locks, undo and replication lag small. */
  batchSize?: number;
  /** Asked between batches: a stopping process leaves the rest to the next run. */
  shouldStop?: () => boolean;
  /** A pause between batches, ms: the pay path gets the disk and the log between two deletes. */
  pauseMs?: number;
}

/**
 * Deletes request log entries older than `retentionDays` before `now`, in batches. Only the request
 * log: payments and refunds are never purged. Returns how many entries were deleted.
 */
export async function purgeRequestLog(
  db: Db,
  retentionDays: number,
  now: Date = new Date(),
  opts: PurgeOptions = {},
): Promise<number> {
  if (!Number.isInteger(retentionDays) || retentionDays < MIN_RETENTION_DAYS) {
    throw new Error(
      `request log retention of ${retentionDays} days refused: at least ${MIN_RETENTION_DAYS} days`,
    );
  }
  // SQLite (better-sqlite3) runs each statement on the event loop and holds its one writer lock for
  // it: a 2000-row delete stalled every pay behind it (pay p99 3.99x during the purge, bench:scale).
  // Small batches, and a pause that lets the loop serve what queued meanwhile.
  const sqlite = db.dialect === 'sqlite';
  const batchSize = opts.batchSize ?? (sqlite ? SQLITE_BATCH : 2000);
  const pauseMs = opts.pauseMs ?? (sqlite ? SQLITE_PAUSE_MS : 20);
  const before = dbTime(new Date(now.getTime() - retentionDays * 86_400_000));
  let deleted = 0;
  for (;;) {
    // Ids first, then delete by id: MySQL refuses LIMIT inside an IN subquery, and SQLite has no
    // DELETE ... LIMIT. Ordered by the index on `at` (which holds the id after it), so each batch
    // reads its rows in index order and sorts nothing, at any table size; the delete then locks
    // those rows alone (by primary key: no gap locks in the way of the pay path's inserts), in a
    // statement of its own, committed before the next batch starts.
    const ids = (await db
      .knex('request_log')
      .where('at', '<', before)
      .orderBy([{ column: 'at' }, { column: 'id' }])
      .limit(batchSize)
      .pluck('id')) as (string | number)[];
    if (ids.length === 0) break;
    deleted += await db.knex('request_log').whereIn('id', ids).delete();
    if (ids.length < batchSize || opts.shouldStop?.()) break;
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  log.info('request log purged', { deleted, before, retentionDays });
  return deleted;
}
