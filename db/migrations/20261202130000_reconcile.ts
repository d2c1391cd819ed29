import type { Knex } from 'knex';

/**
 * Kaspi registries and their reconciliation (docs: reconciliation.md, registries-seed-notes §1.9).
 * registry_files keeps each file byte for byte (an accounting record); rows, runs, items and the
 * one-to-one matches are never purged. Each table is created only when missing (MySQL DDL commits by
 * itself, so a half-run migration is re-run safely).
 */
export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';
  if (!(await knex.schema.hasTable('registry_files'))) {
    await knex.schema.createTable('registry_files', (t) => {
      t.bigIncrements('id');
      t.string('sha256', 64).notNullable().unique('registry_files_sha256_uq');
      t.string('file_name', 255).nullable();
      t.integer('bytes').notNullable();
      t.string('format', 8).notNullable(); // xlsx | csv
      t.string('encoding', 16).nullable();
      t.string('sheet', 255).nullable();
      if (mysql) t.specificType('content', 'MEDIUMBLOB').notNullable();
      else t.binary('content').notNullable();
      t.bigInteger('superseded_by_file_id').nullable();
      t.datetime('created_at', { precision: 3 }).notNullable();
    });
  }
  if (!(await knex.schema.hasTable('registry_rows'))) {
    await knex.schema.createTable('registry_rows', (t) => {
      t.bigIncrements('id');
      t.bigInteger('file_id').notNullable();
      t.integer('row_no').notNullable();
      t.string('kind', 16).notNullable(); // payment | refund | totals | invalid | excluded
      t.string('txn_id', 32).nullable();
      t.boolean('txn_id_precision').notNullable().defaultTo(false);
      t.string('refund_ref', 100).nullable();
      t.bigInteger('amount').nullable();
      t.bigInteger('commission').nullable();
      t.bigInteger('returned_commission').nullable();
      t.string('date_raw', 14).nullable();
      t.string('account', 200).nullable();
      t.string('prv_txn', 20).nullable();
      t.string('status_raw', 100).nullable();
      t.boolean('status_success').nullable();
      t.string('channel', 200).nullable();
      t.text('raw').nullable(); // JSON header → cell text
      t.string('problem', 500).nullable();
      t.unique(['file_id', 'row_no'], { indexName: 'registry_rows_file_row_uq' });
      t.index(['txn_id'], 'registry_rows_txn_idx');
    });
  }
  if (!(await knex.schema.hasTable('reconciliation_runs'))) {
    await knex.schema.createTable('reconciliation_runs', (t) => {
      t.bigIncrements('id');
      t.bigInteger('file_id').notNullable();
      t.string('kind', 16).notNullable().defaultTo('daily');
      t.string('profile', 64).notNullable();
      t.string('period_from', 8).nullable();
      t.string('period_to', 8).nullable();
      t.boolean('period_inferred').notNullable().defaultTo(false);
      t.string('cutoff', 5).notNullable().defaultTo('00:00');
      t.datetime('received_at', { precision: 3 }).notNullable();
      t.datetime('started_at', { precision: 3 }).notNullable();
      t.datetime('finished_at', { precision: 3 }).nullable();
      t.string('status', 16).notNullable(); // running | clean | discrepancies | resolved | failed
      t.string('origin', 8).notNullable(); // cli | api
      t.string('operator', 200).nullable();
      t.bigInteger('rerun_of').nullable();
      t.bigInteger('replaces').nullable();
      t.text('totals').nullable(); // JSON
      t.text('error').nullable(); // JSON: message, headers seen, fields missing
      t.index(['period_from', 'period_to'], 'reconciliation_runs_period_idx');
      t.index(['file_id'], 'reconciliation_runs_file_idx');
      t.index(['status', 'started_at'], 'reconciliation_runs_status_idx');
    });
  }
  if (!(await knex.schema.hasTable('reconciliation_items'))) {
    await knex.schema.createTable('reconciliation_items', (t) => {
      t.bigIncrements('id');
      t.bigInteger('run_id').notNullable();
      t.string('class', 32).notNullable();
      t.string('severity', 8).notNullable(); // action | watch | info
      t.string('state', 16).notNullable(); // open | resolved | ignored | auto_closed | superseded
      t.datetime('due_at', { precision: 3 }).nullable();
      t.datetime('escalate_at', { precision: 3 }).nullable();
      t.datetime('overdue_logged_at', { precision: 3 }).nullable();
      t.bigInteger('row_id').nullable();
      t.integer('row_no').nullable();
      t.bigInteger('payment_id').nullable();
      t.bigInteger('refund_id').nullable();
      t.string('txn_id', 32).nullable();
      t.string('refund_ref', 100).nullable();
      t.bigInteger('registry_amount').nullable();
      t.bigInteger('our_amount').nullable();
      t.text('detail').nullable(); // JSON: evidence, candidates, suggested action
      t.string('action', 16).nullable();
      t.string('note', 1000).nullable();
      t.string('resolved_by', 200).nullable();
      t.datetime('resolved_at', { precision: 3 }).nullable();
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.index(['state', 'severity', 'due_at'], 'reconciliation_items_todo_idx');
      t.index(['txn_id'], 'reconciliation_items_txn_idx');
      t.index(['run_id', 'id'], 'reconciliation_items_run_idx');
    });
  }
  if (!(await knex.schema.hasTable('reconciliation_matches'))) {
    await knex.schema.createTable('reconciliation_matches', (t) => {
      t.bigIncrements('id');
      t.bigInteger('run_id').notNullable();
      t.bigInteger('row_id').notNullable().unique('reconciliation_matches_row_uq');
      // Unique where not null on both engines: the one-to-one pairing across every registry.
      t.bigInteger('payment_id').nullable().unique('reconciliation_matches_payment_uq');
      t.bigInteger('refund_id').nullable().unique('reconciliation_matches_refund_uq');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [
    'reconciliation_matches',
    'reconciliation_items',
    'reconciliation_runs',
    'registry_rows',
    'registry_files',
  ])
    await knex.schema.dropTableIfExists(t);
}
