import type { Knex } from 'knex';

/**
 * The indexes the matcher's reads need (registries-seed-notes §1.9 "Changes to existing tables"):
 * payments (source, txn_date_raw) for the period's payments, read in keyset pages by
 * (txn_date_raw, id) within one source: a string range `'20261123000000' <= txn_date_raw <
 * '20261124000000'` is exact because the raw value is fixed-width Kaspi wall time, and the index
 * (which holds the primary key after its columns) serves both the range and the order. refunds
 * (status, finished_at) for our success refunds finished in the period.
 * test/reconcile/reconcile-indexes.test.ts checks the plans. One index per statement, each
 * checked first: MySQL commits DDL statement by statement.
 */
const INDEXES: [table: string, name: string, columns: string[]][] = [
  ['payments', 'payments_source_txn_date_idx', ['source', 'txn_date_raw']],
  ['refunds', 'refunds_status_finished_idx', ['status', 'finished_at']],
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
  for (const [table, name, columns] of INDEXES)
    if (!(await hasIndex(knex, table, name)))
      await knex.schema.alterTable(table, (t) => t.index(columns, name));
}

export async function down(knex: Knex): Promise<void> {
  for (const [table, name, columns] of [...INDEXES].reverse())
    if (await hasIndex(knex, table, name))
      await knex.schema.alterTable(table, (t) => t.dropIndex(columns, name));
}
