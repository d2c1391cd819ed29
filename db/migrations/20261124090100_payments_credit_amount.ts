import type { Knex } from 'knex';

/**
 * What was (or is being) sent to the billing when it differs from the payment's announced amount
 * (a JetPay callback that paid another sum). Stored before the call, so every retry of the keyed
 * credit sends the same body.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('payments', 'credit_amount'))) {
    await knex.schema.alterTable('payments', (t) => {
      t.bigInteger('credit_amount').nullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('payments', 'credit_amount')) {
    await knex.schema.alterTable('payments', (t) => {
      t.dropColumn('credit_amount');
    });
  }
}
