import type { Knex } from 'knex';

/** Every outside request and our answer, for disputes; purged after the retention period. */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('request_log'))) {
    await knex.schema.createTable('request_log', (t) => {
      t.bigIncrements('id');
      t.datetime('at', { precision: 3 }).notNullable();
      t.string('channel', 16).notNullable(); // kaspi | jetpay | refund_api | billing
      t.string('request_id', 64).nullable();
      t.string('client_ip', 64).nullable();
      t.string('method', 8).nullable();
      t.text('request').nullable(); // raw query or body, secrets masked
      t.string('command', 32).nullable();
      t.string('txn_id', 64).nullable();
      t.integer('http_status').nullable();
      t.string('result', 16).nullable();
      t.string('comment', 255).nullable();
      t.text('response').nullable();
      t.integer('duration_ms').nullable();
      t.index(['at'], 'request_log_at_idx');
      t.index(['txn_id'], 'request_log_txn_idx');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('request_log');
}
