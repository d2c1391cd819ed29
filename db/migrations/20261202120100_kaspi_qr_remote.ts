import type { Knex } from 'knex';

/**
 * Kaspi QR remote invoices (r3; shared/spec/kaspi-qr.md "Remote invoices"). The purchase itself is a
 * row of kaspi_qr_purchases (kind 'remote', never polled on a timer: next_poll_at stays null) beside
 * its payment; what only an invoice has lives in kaspi_qr_remote_invoices, one row per remote/create
 * asked: written before the call leaves, so a lost answer stays `unknown` (never re-sent; its
 * Idempotency-Key stays taken) for a person. kaspi_qr_rate_limits counts calls per key and minute
 * across processes (remote/client-info: under Kaspi's 50 a minute per device).
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('kaspi_qr_remote_invoices'))) {
    await knex.schema.createTable('kaspi_qr_remote_invoices', (t) => {
      t.bigIncrements('id');
      t.string('idem_key', 200).notNullable();
      t.string('request_hash', 64).notNullable();
      t.string('state', 16).notNullable(); // sending | created | unknown | refused | not_sent
      t.string('account', 200).notNullable();
      t.bigInteger('amount').notNullable(); // tiyn
      t.string('phone_masked', 20).notNullable();
      t.string('comment', 255).nullable();
      t.string('qr_payment_id', 20).nullable();
      t.bigInteger('payment_id').nullable();
      t.string('last_error', 255).nullable();
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('last_refresh_at', { precision: 3 }).nullable(); // the last Kaspi status call, our clock
      t.datetime('expiry_check_at', { precision: 3 }).nullable(); // created + 24 h + 5 min
      t.string('expiry_claim', 32).nullable();
      t.datetime('expiry_claimed_until', { precision: 3 }).nullable();
      t.boolean('expiry_done').notNullable().defaultTo(false);
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.unique(['idem_key'], { indexName: 'kaspi_qr_remote_idem_unique' });
      t.unique(['payment_id'], { indexName: 'kaspi_qr_remote_payment_unique' });
      t.index(['expiry_done', 'expiry_check_at'], 'kaspi_qr_remote_expiry_idx');
    });
  }
  if (!(await knex.schema.hasTable('kaspi_qr_rate_limits'))) {
    await knex.schema.createTable('kaspi_qr_rate_limits', (t) => {
      t.string('name', 100).notNullable();
      t.bigInteger('window_start').notNullable(); // epoch minute
      t.integer('calls').notNullable();
      t.primary(['name', 'window_start']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('kaspi_qr_rate_limits');
  await knex.schema.dropTableIfExists('kaspi_qr_remote_invoices');
}
