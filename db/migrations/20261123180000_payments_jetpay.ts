import type { Knex } from 'knex';

/**
 * What a JetPay deposit needs beyond a Kaspi payment: the entity (contract) it pays into, the
 * amount check_deposit announced (payments.amount becomes what was actually paid), and a flag a
 * person must look at (success after decline, a refused credit...). One ALTER per column, each
 * checked first: MySQL commits DDL statement by statement, so a half-run migration can resume.
 */
const COLUMNS: [string, (t: Knex.AlterTableBuilder) => void][] = [
  ['entity_id', (t) => t.string('entity_id', 200).nullable()],
  ['announced_amount', (t) => t.bigInteger('announced_amount').nullable()],
  ['flag', (t) => t.string('flag', 255).nullable()],
  ['flagged_at', (t) => t.datetime('flagged_at', { precision: 3 }).nullable()],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, add] of COLUMNS) {
    if (!(await knex.schema.hasColumn('payments', name))) await knex.schema.alterTable('payments', add);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of [...COLUMNS].reverse()) {
    if (await knex.schema.hasColumn('payments', name))
      await knex.schema.alterTable('payments', (t) => t.dropColumn(name));
  }
}
