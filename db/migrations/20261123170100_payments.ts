import type { Knex } from 'knex';

/**
 * Payments from every source, kept forever. The unique key (source, txn_id) is what makes a pay
 * exactly-once: whoever inserts first owns the payment, everyone else replays its answer.
 * The ledger's unique (payment_id, kind) makes a double credit impossible even for a buggy caller.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('payments'))) {
    await knex.schema.createTable('payments', (t) => {
      t.bigIncrements('id'); // our prv_txn
      t.string('source', 16).notNullable();
      t.string('txn_id', 64).notNullable();
      t.string('account', 200).notNullable();
      t.bigInteger('amount').notNullable();
      t.string('txn_date_raw', 14).nullable();
      t.datetime('txn_date', { precision: 3 }).nullable(); // UTC instant of txn_date
      t.string('state', 24).notNullable();
      t.integer('result').nullable();
      t.string('comment', 255).nullable();
      t.text('extra').nullable(); // JSON of data1..dataN, never interpreted
      t.string('billing_ref', 100).nullable();
      t.string('order_number', 200).nullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.datetime('next_attempt_at', { precision: 3 }).nullable();
      t.string('last_error', 500).nullable();
      t.datetime('received_at', { precision: 3 }).notNullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.datetime('credited_at', { precision: 3 }).nullable();
      t.unique(['source', 'txn_id'], { indexName: 'payments_source_txn_unique' });
      t.index(['state', 'next_attempt_at'], 'payments_state_next_idx');
      t.index(['account'], 'payments_account_idx');
      t.index(['received_at'], 'payments_received_idx');
    });
  }
  if (!(await knex.schema.hasTable('account_ledger'))) {
    await knex.schema.createTable('account_ledger', (t) => {
      t.bigIncrements('id');
      t.bigInteger('payment_id').notNullable();
      t.string('kind', 16).notNullable(); // credit | refund
      t.string('ref', 100).notNullable().defaultTo(''); // refund id for refunds
      t.string('account', 200).nullable();
      t.string('order_number', 200).nullable();
      t.bigInteger('amount').notNullable();
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.unique(['payment_id', 'kind', 'ref'], { indexName: 'ledger_payment_kind_unique' });
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('account_ledger');
  await knex.schema.dropTableIfExists('payments');
}
