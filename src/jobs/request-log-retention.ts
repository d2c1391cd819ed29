import { dbTime, type Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';

const log = getLogger('retention');

/** Disputes with Kaspi come weeks later: the request log is never kept for less. */
export const MIN_RETENTION_DAYS = 30;

export interface PurgeOptions {
  /** Rows per DELETE: short statements keep row locks, undo and replication lag small. */
  batchSize?: number;
  /** Asked between batches: a stopping process leaves the rest to the next run. */
  shouldStop?: () => boolean;
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
  const batchSize = opts.batchSize ?? 5000;
  const before = dbTime(new Date(now.getTime() - retentionDays * 86_400_000));
  let deleted = 0;
  for (;;) {
    // Ids first, then delete by id: MySQL refuses LIMIT inside an IN subquery, and SQLite has no
    // DELETE ... LIMIT; both use the index on `at` for the select.
    const ids = (await db
      .knex('request_log')
      .where('at', '<', before)
      .orderBy('id')
      .limit(batchSize)
      .pluck('id')) as (string | number)[];
    if (ids.length === 0) break;
    deleted += await db.knex('request_log').whereIn('id', ids).delete();
    if (ids.length < batchSize || opts.shouldStop?.()) break;
  }
  log.info('request log purged', { deleted, before, retentionDays });
  return deleted;
}
