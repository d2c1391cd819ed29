import type { Knex } from 'knex';

/**
 * The post-payment check of a Kaspi QR purchase (r2/r3; notes D-28): once a purchase is paid,
 * payment/details is read once and its TotalAmount compared with what we asked. `details_due_at`
 * is set in the same write that marks the purchase paid, so a process that dies before the check
 * leaves it due for the next engine tick; it is cleared when the check is done (`details_tries` counts the reads that failed). What Kaspi said is
 * kept beside the purchase (TotalAmount in tiyn, TransactionDate as written). One ALTER per
 * column, each checked first: MySQL commits DDL statement by statement, a half-run one resumes.
 */
const COLUMNS: [string, (t: Knex.AlterTableBuilder) => void][] = [
  ['details_due_at', (t) => t.datetime('details_due_at', { precision: 3 }).nullable()],
  ['details_tries', (t) => t.integer('details_tries').notNullable().defaultTo(0)],
  ['kaspi_total_amount', (t) => t.bigInteger('kaspi_total_amount').nullable()],
  ['kaspi_transaction_date', (t) => t.string('kaspi_transaction_date', 40).nullable()],
];
const INDEX = 'kaspi_qr_purchases_details_due_idx';

async function hasIndex(knex: Knex): Promise<boolean> {
  if (knex.client.config.client === 'mysql2') {
    const [rows] = (await knex.raw(
      'select 1 from information_schema.statistics where table_schema = database() and table_name = ? and index_name = ? limit 1',
      ['kaspi_qr_purchases', INDEX],
    )) as [unknown[]];
    return rows.length > 0;
  }
  const rows = (await knex.raw(`select 1 from sqlite_master where type = 'index' and name = ?`, [
    INDEX,
  ])) as unknown[];
  return rows.length > 0;
}

export async function up(knex: Knex): Promise<void> {
  for (const [name, add] of COLUMNS) {
    if (!(await knex.schema.hasColumn('kaspi_qr_purchases', name)))
      await knex.schema.alterTable('kaspi_qr_purchases', add);
  }
  if (!(await hasIndex(knex)))
    await knex.schema.alterTable('kaspi_qr_purchases', (t) => t.index(['details_due_at'], INDEX));
}

export async function down(knex: Knex): Promise<void> {
  if (await hasIndex(knex))
    await knex.schema.alterTable('kaspi_qr_purchases', (t) => t.dropIndex(['details_due_at'], INDEX));
  for (const [name] of [...COLUMNS].reverse()) {
    if (await knex.schema.hasColumn('kaspi_qr_purchases', name))
      await knex.schema.alterTable('kaspi_qr_purchases', (t) => t.dropColumn(name));
  }
}
