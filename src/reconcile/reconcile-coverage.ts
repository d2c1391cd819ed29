import { dbTime, isUniqueViolation, type Db } from '../db/db.js';
import { addDays, endOfDay } from './reconcile-calendar.js';

/**
 * Which days the imported registries cover: a run that finished (not failed) on a file that was not
 * replaced covers its period's days. For RECONCILE_EXPECT_DAILY and the covered-until metric.
 */

const FINISHED = ['clean', 'discrepancies', 'resolved'];

function covering(db: Db) {
  return db
    .knex('reconciliation_runs as r')
    .join('registry_files as f', 'f.id', 'r.file_id')
    .whereNull('f.superseded_by_file_id')
    .whereIn('r.status', FINISHED)
    .whereNotNull('r.period_from');
}

/** The days of [from, to] (YYYYMMDD) some registry covers. */
export async function coveredDays(db: Db, from: string, to: string): Promise<Set<string>> {
  const rows = (await covering(db)
    .where('r.period_to', '>=', from)
    .where('r.period_from', '<=', to)
    .select('r.period_from', 'r.period_to')) as { period_from: string; period_to: string }[];
  const out = new Set<string>();
  for (const r of rows)
    for (let d = String(r.period_from); d <= String(r.period_to) && d <= to; d = addDays(d, 1))
      if (d >= from) out.add(d);
  return out;
}

/** The end of the latest day a registry covers, as an instant (null: none yet). */
export async function coveredUntil(db: Db, offset: string): Promise<Date | null> {
  const r = (await covering(db).max({ d: 'r.period_to' }).first()) as { d: string | null } | undefined;
  return r?.d ? new Date(endOfDay(String(r.d), offset)) : null;
}

/** True the first time this notice key is given (the unique key decides across workers). */
export async function firstNotice(db: Db, key: string): Promise<boolean> {
  try {
    await db.knex('reconciliation_notices').insert({ notice_key: key.slice(0, 100), created_at: dbTime() });
    return true;
  } catch (e) {
    if (isUniqueViolation(e)) return false;
    throw e;
  }
}
