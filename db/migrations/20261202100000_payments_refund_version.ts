import type { Knex } from 'knex';

/**
 * payments.refund_version: filing a refund bumps it on the payment's row, in the transaction that
 * checks "within what is left" and inserts the refund. On one server the payment's row lock
 * (SELECT … FOR UPDATE) already orders two refunds of one payment; on a Galera cluster it does
 * not (the lock is node-local), and two refunds filed on two nodes insert different rows, so
 * nothing conflicts at certification and both would fit in the same remainder. Writing the
 * payment's row makes them conflict: one commits, the other fails at COMMIT (1213), runs again
 * (src/db/commit-retry.ts) and then sees the first. Safe to re-run: the column is checked first.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('payments', 'refund_version')))
    await knex.schema.alterTable('payments', (t) => {
      t.integer('refund_version').unsigned().notNullable().defaultTo(0);
    });
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('payments', 'refund_version'))
    await knex.schema.alterTable('payments', (t) => t.dropColumn('refund_version'));
}
