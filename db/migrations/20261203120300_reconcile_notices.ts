import type { Knex } from 'knex';

/**
 * What the reconcile watch job has already told a person (a registry missing for a business day:
 * the WARN, then the ERROR), one row per notice key. The unique key decides, so two workers, or the
 * same job an hour later, log each once. Kept, like the other reconciliation records.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('reconciliation_notices')))
    await knex.schema.createTable('reconciliation_notices', (t) => {
      t.bigIncrements('id');
      t.string('notice_key', 100).notNullable().unique('reconciliation_notices_key_uq');
      t.datetime('created_at', { precision: 3 }).notNullable();
    });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('reconciliation_notices');
}
