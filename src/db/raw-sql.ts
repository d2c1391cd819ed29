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

interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<unknown>;
}

interface MysqlConnection {
  query(sql: string, values: unknown[], cb: (err: Error | null, rows: unknown) => void): void;
}

/**
 * One statement outside any transaction, on MySQL without knex's runner around it: a connection
 * of knex's own pool (its size, acquire timeout, a dead connection dropped on its next acquire),
 * the statement sent on it directly; mysql2's own result (rows, or the write's header). For the
 * read every Kaspi check makes and the request log's batched insert, where the runner and the
 * query builder cost more CPU than the statement (bench/floor.ts). SQLite goes through knex.raw.
 */
export async function poolQuery(db: Db, sql: string, bindings: readonly Knex.Value[]): Promise<unknown> {
  if (db.dialect !== 'mysql') return db.knex.raw(sql, bindings as Knex.Value[]);
  const client = db.knex.client as PoolClient;
  const conn = (await client.acquireConnection()) as MysqlConnection;
  try {
    return await new Promise((resolve, reject) => {
      conn.query(sql, bindings as unknown[], (err, result) => (err ? reject(err) : resolve(result)));
    });
  } finally {
    await client.releaseConnection(conn);
  }
}

/** The rows of a SELECT through poolQuery. */
export async function poolRows<T = Record<string, unknown>>(
  db: Db,
  sql: string,
  bindings: readonly Knex.Value[],
): Promise<T[]> {
  return (await poolQuery(db, sql, bindings)) as T[];
}
