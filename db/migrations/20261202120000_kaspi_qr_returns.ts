import type { Knex } from 'knex';

/**
 * Kaspi QR returns through the refunds ledger (shared/spec/kaspi-qr.md "Returns").
 * - refunds.source: which channel's payment a refund returns (`kaspi` = the Refund API, the default
 *   of every row before this; `kaspi_qr` = payment/return), so the poller never files a QR return
 *   with the Refund API.
 * - kaspi_qr_refunds: beside each QR refund, what the lost-answer check needs: the purchase, the
 *   AvailableReturnAmount read before the send, how many sends left, Kaspi's ReturnOperationId,
 *   and (r2) the return session it went through.
 * - kaspi_qr_return_locks: one return at a time per purchase across processes and hosts: a row per
 *   purchase, taken by insert or by claiming an expired one (a conditional UPDATE); no GET_LOCK, which
 *   is per MySQL server and has no SQLite twin.
 * - kaspi_qr_return_sessions: r2 return sessions (return/create, the return QR page, return/status).
 * Each step checks first: MySQL commits DDL statement by statement, a half-run migration resumes.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('refunds', 'source'))) {
    await knex.schema.alterTable('refunds', (t) => {
      t.string('source', 16).notNullable().defaultTo('kaspi');
    });
  }
  if (!(await knex.schema.hasTable('kaspi_qr_refunds'))) {
    await knex.schema.createTable('kaspi_qr_refunds', (t) => {
      t.bigInteger('refund_id').primary(); // refunds.id
      t.string('qr_payment_id', 20).notNullable();
      t.string('scheme', 4).notNullable(); // r2 | r3
      t.string('qr_return_id', 20).nullable(); // r2: the return session's QrReturnId
      t.bigInteger('available_before').nullable(); // tiyn, from payment/details before the first send
      t.integer('sends').notNullable().defaultTo(0); // payment/return calls that may have reached Kaspi
      t.string('return_operation_id', 20).nullable();
      t.string('note', 255).nullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.index(['qr_payment_id'], 'kaspi_qr_refunds_purchase_idx');
    });
  }
  if (!(await knex.schema.hasTable('kaspi_qr_return_locks'))) {
    await knex.schema.createTable('kaspi_qr_return_locks', (t) => {
      t.string('qr_payment_id', 20).primary();
      t.string('owner', 64).notNullable();
      t.datetime('locked_until', { precision: 3 }).notNullable();
    });
  }
  if (!(await knex.schema.hasTable('kaspi_qr_return_sessions'))) {
    await knex.schema.createTable('kaspi_qr_return_sessions', (t) => {
      t.bigIncrements('id');
      t.string('token', 32).notNullable(); // the return page's random 128-bit id
      t.string('idempotency_key', 100).nullable();
      t.string('qr_return_id', 20).notNullable();
      t.string('qr_token', 100).notNullable();
      t.string('expire_date_raw', 64).nullable();
      t.bigInteger('payment_id').notNullable();
      t.string('txn_id', 20).notNullable(); // the purchase's QrPaymentId
      t.bigInteger('amount').notNullable(); // tiyn
      t.string('reason', 500).notNullable();
      t.string('created_by', 64).notNullable().defaultTo('');
      // pending | identified | returned | wrong_customer | expired | failed
      t.string('state', 16).notNullable();
      t.string('kaspi_status', 64).nullable();
      t.integer('poll_interval_s').notNullable();
      t.datetime('deadline', { precision: 3 }).notNullable(); // creation + QrCodeScanWaitTimeout, our clock
      t.datetime('next_poll_at', { precision: 3 }).nullable();
      t.string('poll_claim', 32).nullable();
      t.integer('polls').notNullable().defaultTo(0);
      t.bigInteger('refund_id').nullable();
      t.string('last_error', 255).nullable();
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.unique(['token'], { indexName: 'kaspi_qr_return_sessions_token_unique' });
      t.unique(['idempotency_key'], { indexName: 'kaspi_qr_return_sessions_idem_unique' });
      t.index(['next_poll_at'], 'kaspi_qr_return_sessions_next_idx');
      t.index(['payment_id'], 'kaspi_qr_return_sessions_payment_idx');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('kaspi_qr_return_sessions');
  await knex.schema.dropTableIfExists('kaspi_qr_return_locks');
  await knex.schema.dropTableIfExists('kaspi_qr_refunds');
  if (await knex.schema.hasColumn('refunds', 'source'))
    await knex.schema.alterTable('refunds', (t) => t.dropColumn('source'));
}
