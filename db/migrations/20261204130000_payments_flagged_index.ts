import type { Knex } from 'knex';

/**
 * payments (flagged_at) for the console's Attention page and `GET /api/payments?flagged=true`: the
 * payments a person must look at (JetPay deposits, a Kaspi QR purchase paid with another amount,
 * a paid check that kept failing). They are a handful among millions, so without the index the
 * list reads the whole table. The helper is repeated here, not imported: a migration must not
 * change when the code it would import does.
 */
const TABLE = 'payments';
const NAME = 'payments_flagged_idx';

async function hasIndex(knex: Knex): Promise<boolean> {
  if (knex.client.config.client === 'mysql2') {
    const [rows] = (await knex.raw(
      'select 1 from information_schema.statistics where table_schema = database() and table_name = ? and index_name = ? limit 1',
      [TABLE, NAME],
    )) as [unknown[]];
    return rows.length > 0;
  }
  const rows = (await knex.raw(`select 1 from sqlite_master where type = 'index' and name = ?`, [
    NAME,
  ])) as unknown[];
  return rows.length > 0;
}

export async function up(knex: Knex): Promise<void> {
  if (!(await hasIndex(knex))) await knex.schema.alterTable(TABLE, (t) => t.index(['flagged_at'], NAME));
}

export async function down(knex: Knex): Promise<void> {
  if (await hasIndex(knex)) await knex.schema.alterTable(TABLE, (t) => t.dropIndex(['flagged_at'], NAME));
}
