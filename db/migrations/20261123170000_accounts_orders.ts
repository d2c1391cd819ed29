import type { Knex } from 'knex';

/** Embedded billing: accounts and orders. Amounts are BIGINT tiyn. */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('accounts'))) {
    await knex.schema.createTable('accounts', (t) => {
      t.bigIncrements('id');
      t.string('account', 200).notNullable().unique();
      t.string('name', 200).notNullable().defaultTo('');
      t.bigInteger('balance').notNullable().defaultTo(0);
      t.string('status', 16).notNullable().defaultTo('active');
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
    });
  }
  if (!(await knex.schema.hasTable('orders'))) {
    await knex.schema.createTable('orders', (t) => {
      t.bigIncrements('id');
      t.string('number', 200).notNullable().unique();
      t.string('account', 200).nullable();
      t.bigInteger('amount').notNullable();
      t.string('status', 16).notNullable().defaultTo('open');
      t.bigInteger('paid_amount').notNullable().defaultTo(0);
      t.string('paid_txn_id', 64).nullable();
      t.string('description', 500).notNullable().defaultTo('');
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('orders');
  await knex.schema.dropTableIfExists('accounts');
}
