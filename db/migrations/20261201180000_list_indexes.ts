import type { Knex } from 'knex';

/**
 * The indexes the admin lists and searches need at ten million payments (keyset pages, newest
 * first, `WHERE <filter> AND id < :before ORDER BY id DESC`): a secondary index holds the primary
 * key after its own columns (InnoDB) or the rowid (SQLite), so (state) reads as (state, id).
 * payments.txn_id alone: the unique key (source, txn_id) cannot serve a search by txn_id of any
 * source. test/admin/list-indexes.test.ts checks the plans (EXPLAIN) so a missing one fails.
 * One index per statement, each checked first: MySQL commits DDL statement by statement.
 */
const INDEXES: [table: string, name: string, columns: string[]][] = [
  ['payments', 'payments_txn_idx', ['txn_id']],
  ['payments', 'payments_state_idx', ['state']],
  ['payments', 'payments_source_idx', ['source']],
  ['refunds', 'refunds_status_idx', ['status']],
  ['refunds', 'refunds_flagged_idx', ['flagged_at']],
];

async function hasIndex(knex: Knex, table: string, name: string): Promise<boolean> {
  if (knex.client.config.client === 'mysql2') {
    const [rows] = (await knex.raw(
      'select 1 from information_schema.statistics where table_schema = database() and table_name = ? and index_name = ? limit 1',
      [table, name],
    )) as [unknown[]];
    return rows.length > 0;
  }
  const rows = (await knex.raw(`select 1 from sqlite_master where type = 'index' and name = ?`, [
    name,
  ])) as unknown[];
  return rows.length > 0;
}

export async function up(knex: Knex): Promise<void> {
  for (const [table, name, columns] of INDEXES) {
    if (!(await hasIndex(knex, table, name)))
      await knex.schema.alterTable(table, (t) => t.index(columns, name));
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [table, name, columns] of [...INDEXES].reverse()) {
    if (await hasIndex(knex, table, name))
      await knex.schema.alterTable(table, (t) => t.dropIndex(columns, name));
  }
}
