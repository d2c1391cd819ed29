import type { Knex } from 'knex';

/**
 * Refunds filed with Kaspi's Refund API. A row is written before anything is sent, so a crash
 * between send and answer leaves a row the poller finishes; `refund_identificator` is the key
 * Kaspi deduplicates on (its error 4), `idempotency_key` the one our own callers may send.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('refunds'))) {
    await knex.schema.createTable('refunds', (t) => {
      t.bigIncrements('id');
      t.string('refund_identificator', 100).notNullable();
      t.string('idempotency_key', 100).nullable();
      t.bigInteger('payment_id').notNullable();
      t.string('txn_id', 64).notNullable();
      t.string('account', 200).notNullable();
      t.bigInteger('amount').notNullable(); // tiyn
      t.bigInteger('return_amount').notNullable(); // what goes on the wire, in REFUND_AMOUNT_UNIT
      t.string('amount_unit', 8).notNullable();
      t.string('reason', 500).notNullable();
      t.string('status', 24).notNullable();
      t.integer('kaspi_status').nullable();
      t.string('request_identificator', 100).nullable();
      t.integer('error_code').nullable();
      t.string('error_message', 500).nullable();
      t.integer('polls').notNullable().defaultTo(0);
      t.datetime('next_poll_at', { precision: 3 }).nullable(); // null: nobody polls it automatically
      t.datetime('last_polled_at', { precision: 3 }).nullable();
      t.string('last_problem', 500).nullable();
      t.datetime('flagged_at', { precision: 3 }).nullable();
      t.string('flag_reason', 255).nullable();
      t.datetime('billing_notified_at', { precision: 3 }).nullable();
      t.string('billing_ref', 100).nullable();
      t.string('created_by', 64).notNullable().defaultTo('');
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.datetime('finished_at', { precision: 3 }).nullable();
      t.unique(['refund_identificator'], { indexName: 'refunds_identificator_unique' });
      t.unique(['idempotency_key'], { indexName: 'refunds_idempotency_unique' });
      t.index(['payment_id'], 'refunds_payment_idx');
      t.index(['status', 'next_poll_at'], 'refunds_status_next_idx');
      t.index(['txn_id'], 'refunds_txn_idx');
    });
  }
  // One row (id = 1): the deployment's only Refund API token. `generation` grows with every new
  // token, so a process that saw a 401 can tell whether someone already replaced the token it used.
  if (!(await knex.schema.hasTable('refund_api_token'))) {
    await knex.schema.createTable('refund_api_token', (t) => {
      t.integer('id').primary();
      t.text('token').nullable();
      t.datetime('valid_to', { precision: 3 }).nullable();
      t.bigInteger('generation').notNullable().defaultTo(0);
      t.string('lock_owner', 100).nullable();
      t.datetime('lock_until', { precision: 3 }).nullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('refund_api_token');
  await knex.schema.dropTableIfExists('refunds');
}
