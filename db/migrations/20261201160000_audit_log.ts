import type { Knex } from 'knex';

/**
 * Who did what, from every interface (console, admin API, CLI), written in the same transaction as
 * the change it records. Kept forever, like payments: nothing updates or deletes a row.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('audit_log'))) {
    await knex.schema.createTable('audit_log', (t) => {
      t.bigIncrements('id');
      t.datetime('at', { precision: 3 }).notNullable();
      t.string('actor', 200).notNullable(); // console:<login> | api | cli:<OS user> | system
      t.string('action', 64).notNullable(); // refund.filed, signin.failed, ...
      t.string('target_type', 32).nullable(); // payment | refund | item | account | order | user | registry | qr
      t.string('target_id', 200).nullable();
      t.text('details').nullable(); // JSON
      t.string('client_ip', 64).nullable();
      t.index(['at'], 'audit_log_at_idx');
      t.index(['actor', 'id'], 'audit_log_actor_idx');
      t.index(['action', 'id'], 'audit_log_action_idx');
      t.index(['target_type', 'target_id'], 'audit_log_target_idx');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_log');
}
