import type { Knex } from 'knex';

/**
 * One import of a file at a time, decided by a unique key rather than by a read first:
 * reconciliation_runs.active_file_id holds the file's id while its run is `running` and NULL once it
 * ends (clean, discrepancies, failed). Two processes importing the same file at the same moment both
 * try to start a run; the unique index lets one, the other waits for that run and answers it as a
 * duplicate. NULLs never collide (MySQL and SQLite alike), so finished runs are unconstrained.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('reconciliation_runs', 'active_file_id'))) {
    await knex.schema.alterTable('reconciliation_runs', (t) => {
      t.bigInteger('active_file_id').nullable();
    });
  }
  const mysql = knex.client.config.client === 'mysql2';
  const exists = mysql
    ? (
        (await knex.raw(
          `select 1 from information_schema.statistics where table_schema = database() and table_name = 'reconciliation_runs' and index_name = 'reconciliation_runs_active_uq' limit 1`,
        )) as [unknown[]]
      )[0].length > 0
    : (
        (await knex.raw(
          `select 1 from sqlite_master where type = 'index' and name = 'reconciliation_runs_active_uq'`,
        )) as unknown[]
      ).length > 0;
  if (!exists)
    await knex.schema.alterTable('reconciliation_runs', (t) => {
      t.unique(['active_file_id'], { indexName: 'reconciliation_runs_active_uq' });
    });
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('reconciliation_runs', 'active_file_id'))
    await knex.schema.alterTable('reconciliation_runs', (t) => {
      t.dropUnique(['active_file_id'], 'reconciliation_runs_active_uq');
      t.dropColumn('active_file_id');
    });
}
