import type { Knex } from 'knex';

/**
 * refunds.origin: `api` (filed by a person through the API, the CLI or the console: the default,
 * and every refund before this) or `registry` (from a reconciliation item: a refund filed for a
 * payment Kaspi counts as paid and we refused, or one Kaspi made in its cabinet and a registry
 * listed). A refund from a reconciliation is told apart by it, in lists and in the database.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('refunds', 'origin')))
    await knex.schema.alterTable('refunds', (t) => {
      t.string('origin', 16).notNullable().defaultTo('api');
    });
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('refunds', 'origin'))
    await knex.schema.alterTable('refunds', (t) => t.dropColumn('origin'));
}
