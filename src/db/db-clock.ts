import type { Knex } from 'knex';
import type { Db } from './db.js';

/**
 * The database's clock as a SQL expression, optionally shifted by `plusMs`. Leases and retry times
 * are written and compared with it, so hosts whose clocks disagree still agree on who holds a lease
 * and what is due. The text it yields ("YYYY-MM-DD HH:MM:SS.sss", UTC) is the one dbTime() writes,
 * so both sort and compare the same way on MySQL (session in UTC) and SQLite.
 */
export function dbNow(db: Db, plusMs = 0): Knex.Raw {
  const ms = Math.round(plusMs);
  if (db.dialect === 'mysql') {
    return ms === 0
      ? db.knex.raw('NOW(3)')
      : db.knex.raw('DATE_ADD(NOW(3), INTERVAL ? MICROSECOND)', [ms * 1000]);
  }
  if (ms === 0) return db.knex.raw("strftime('%Y-%m-%d %H:%M:%f', 'now')");
  // Seconds written from the integer milliseconds by digits, never through a division in floats.
  const abs = Math.abs(ms);
  const shift = `${ms < 0 ? '-' : '+'}${Math.trunc(abs / 1000)}.${String(abs % 1000).padStart(3, '0')} seconds`;
  return db.knex.raw("strftime('%Y-%m-%d %H:%M:%f', 'now', ?)", [shift]);
}

/** Rows of a raw SELECT (or RETURNING), whichever driver ran it. */
export function rawRows<T>(db: Db, result: unknown): T[] {
  if (db.dialect === 'mysql') return (result as [T[], unknown])[0];
  return result as T[];
}
