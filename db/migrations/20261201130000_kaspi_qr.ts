import type { Knex } from 'knex';

/**
 * Kaspi QR (shared/spec/kaspi-qr.md). A purchase is a row in `payments` (source 'kaspi_qr', txn_id =
 * QrPaymentId); what only Kaspi QR has lives beside it in kaspi_qr_purchases, one row per payment:
 * kind, QR token or link, Kaspi's options, our deadlines (by our clock), the last Kaspi status, the
 * next poll and the pay page token. kaspi_qr_devices keeps device tokens from `qr device register`;
 * kaspi_qr_idempotency the Idempotency-Key of each create; kaspi_qr_state the engine's pause.
 * Each table is created only when missing, so a half-run migration resumes (MySQL DDL autocommits).
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('kaspi_qr_purchases'))) {
    await knex.schema.createTable('kaspi_qr_purchases', (t) => {
      t.bigInteger('payment_id').primary(); // payments.id
      t.string('kind', 8).notNullable(); // qr | link | remote
      t.string('qr_payment_id', 20).notNullable(); // Kaspi's Int64, as its decimal digits
      t.string('pay_token', 32).notNullable(); // the pay page's random 128-bit id
      t.string('qr_token', 100).nullable();
      t.string('payment_link', 500).nullable();
      t.string('expire_date_raw', 64).nullable();
      t.datetime('expire_at', { precision: 3 }).nullable();
      t.string('payment_methods', 255).nullable(); // JSON array
      t.integer('poll_interval_s').notNullable();
      t.integer('scan_timeout_s').notNullable();
      t.integer('confirm_timeout_s').notNullable();
      t.datetime('created_at', { precision: 3 }).notNullable(); // when Kaspi's answer came, our clock
      t.datetime('scan_deadline', { precision: 3 }).notNullable();
      t.datetime('first_wait_at', { precision: 3 }).nullable();
      t.datetime('confirm_deadline', { precision: 3 }).nullable();
      t.datetime('expired_at', { precision: 3 }).nullable();
      t.string('state', 16).notNullable(); // pending scanned paid failed expired cancelled unknown
      t.string('kaspi_status', 64).nullable(); // raw, even when we don't know it
      t.boolean('unknown_status_logged').notNullable().defaultTo(false);
      t.datetime('next_poll_at', { precision: 3 }).nullable(); // null = not polled any more
      t.string('poll_claim', 32).nullable(); // who polls it now (fences a stale runner)
      t.integer('backoff_ms').notNullable().defaultTo(0);
      t.integer('late_checks_done').notNullable().defaultTo(0);
      t.integer('polls').notNullable().defaultTo(0);
      t.string('phone_masked', 20).nullable();
      t.string('comment', 255).nullable();
      t.string('last_error', 255).nullable();
      t.string('flag', 100).nullable(); // for a person: amount_mismatch, credit_refused, conflict
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.unique(['qr_payment_id'], { indexName: 'kaspi_qr_purchases_qr_payment_unique' });
      t.unique(['pay_token'], { indexName: 'kaspi_qr_purchases_pay_token_unique' });
      t.index(['next_poll_at'], 'kaspi_qr_purchases_next_poll_idx');
      t.index(['state'], 'kaspi_qr_purchases_state_idx');
    });
  }
  if (!(await knex.schema.hasTable('kaspi_qr_devices'))) {
    await knex.schema.createTable('kaspi_qr_devices', (t) => {
      t.increments('id');
      t.string('base_url', 255).notNullable(); // one scheme/host's devices never serve another's
      t.string('device_id', 64).notNullable();
      t.string('trade_point_id', 20).notNullable();
      t.string('device_token', 100).notNullable();
      t.boolean('active').notNullable().defaultTo(true);
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('deleted_at', { precision: 3 }).nullable();
      t.index(['base_url', 'active'], 'kaspi_qr_devices_base_active_idx');
    });
  }
  if (!(await knex.schema.hasTable('kaspi_qr_idempotency'))) {
    await knex.schema.createTable('kaspi_qr_idempotency', (t) => {
      t.string('idem_key', 200).primary();
      t.string('request_hash', 64).notNullable();
      t.bigInteger('payment_id').nullable(); // null while the create is in flight
      t.datetime('created_at', { precision: 3 }).notNullable();
    });
  }
  if (!(await knex.schema.hasTable('kaspi_qr_state'))) {
    await knex.schema.createTable('kaspi_qr_state', (t) => {
      t.string('name', 64).primary();
      t.string('value', 255).nullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['kaspi_qr_state', 'kaspi_qr_idempotency', 'kaspi_qr_devices', 'kaspi_qr_purchases'])
    await knex.schema.dropTableIfExists(t);
}
