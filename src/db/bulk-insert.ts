import type { Knex } from 'knex';
import type { Db } from './db.js';

/**
 * Many rows into one table inside a transaction (a registry's 200 000 rows and their pairings).
 * knex's multi-row insert costs more than the rows: per batch of 500 it builds the statement from
 * 500 objects and, on SQLite, a 500-term `insert … select … union all select …` that better-sqlite3
 * prepares afresh each time (bench:reconcile: 10 s of a 25 s import in knex and in prepare).
 * Here the statement text is made once: SQLite prepares one single-row insert on the transaction's
 * connection and runs it per row (a better-sqlite3 run is synchronous and cheap), letting the event
 * loop go every CHUNK rows; MySQL sends `insert … values (…), (…)` of BATCH rows through knex.raw.
 */

const BATCH = 500;
const CHUNK = 2000;

interface SqliteConnection {
  prepare(sql: string): { run(...params: unknown[]): unknown };
}

const sqliteValue = (v: unknown): unknown =>
  typeof v === 'boolean' ? Number(v) : v instanceof Date ? v.valueOf() : (v ?? null);

export async function insertMany(
  db: Db,
  trx: Knex.Transaction,
  table: string,
  columns: readonly string[],
  rows: Iterable<readonly unknown[]>,
): Promise<void> {
  const names = columns.map((c) => `\`${c}\``).join(', ');
  const one = `(${columns.map(() => '?').join(', ')})`;
  if (db.dialect === 'sqlite') {
    // Inside a knex transaction its client hands out the transaction's own connection.
    const conn = (await trx.client.acquireConnection()) as SqliteConnection;
    const statement = conn.prepare(`insert into \`${table}\` (${names}) values ${one}`);
    let n = 0;
    for (const r of rows) {
      statement.run(...r.map(sqliteValue));
      if (++n % CHUNK === 0) await new Promise((res) => setImmediate(res));
    }
    return;
  }
  const full = `insert into \`${table}\` (${names}) values ${Array(BATCH).fill(one).join(', ')}`;
  let batch: unknown[] = [];
  let count = 0;
  const flush = async () => {
    const sql =
      count === BATCH
        ? full
        : `insert into \`${table}\` (${names}) values ${Array(count).fill(one).join(', ')}`;
    await trx.raw(sql, batch as Knex.Value[]);
    batch = [];
    count = 0;
  };
  for (const r of rows) {
    for (const v of r) batch.push(v ?? null);
    if (++count === BATCH) await flush();
  }
  if (count > 0) await flush();
}
