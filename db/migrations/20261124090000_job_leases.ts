import type { Knex } from 'knex';

/**
 * One row per cron job: who holds its lease, until when (the database's clock), and a fencing
 * token that grows on every take, so a runner that lost its lease can be told apart from the
 * one that holds it now. The last run's duration and error are kept for operators and metrics.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('job_leases'))) {
    await knex.schema.createTable('job_leases', (t) => {
      t.string('name', 100).primary();
      t.string('owner', 200).nullable();
      t.bigInteger('fencing_token').notNullable().defaultTo(0);
      t.datetime('expires_at', { precision: 3 }).nullable();
      t.datetime('acquired_at', { precision: 3 }).nullable();
      t.datetime('last_finished_at', { precision: 3 }).nullable();
      t.integer('last_duration_ms').nullable();
      t.string('last_error', 500).nullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_leases');
}
