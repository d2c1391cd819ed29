import type { Knex } from 'knex';
import type { Db } from './db.js';

/**
 * Fixed SQL texts for the few statements every payment runs, sent through knex.raw: knex's query
 * builder costs more CPU than the round trip itself on a small machine (measured: a built
 * `where().first()` about 2.4× a raw one), and the pay path runs a handful of statements per call.
 * The texts are plain SQL both databases read (backticks quote names in SQLite too).
 */

type Runner = Knex | Knex.Transaction;

export interface WriteResult {
  /** id of the inserted row (auto increment), as a string */
  insertId: string;
  /** rows the statement changed */
  affected: number;
}

export async function rawWrite(
  db: Db,
  q: Runner,
  sql: string,
  bindings: readonly Knex.Value[],
): Promise<WriteResult> {
  const r = (await q.raw(sql, bindings as Knex.Value[])) as unknown;
  if (db.dialect === 'mysql') {
    const header = (r as [{ insertId: number | string; affectedRows: number }])[0];
    return { insertId: String(header.insertId), affected: header.affectedRows };
  }
  const run = r as { lastInsertRowid: number | bigint; changes: number };
  return { insertId: String(run.lastInsertRowid), affected: run.changes };
}

export async function rawRows<T = Record<string, unknown>>(
  db: Db,
  q: Runner,
  sql: string,
  bindings: readonly Knex.Value[],
): Promise<T[]> {
  const r = (await q.raw(sql, bindings as Knex.Value[])) as unknown;
  return (db.dialect === 'mysql' ? (r as [T[]])[0] : r) as T[];
}
