import type { Knex } from 'knex';

/**
 * Kaspi QR create attempts (shared/spec/kaspi-qr.md "A Kaspi QR purchase is a payment"): every
 * `qr/create` / `qr/create-link` is written here BEFORE it is sent, with the ExternalId it carries,
 * so an answer lost on the way (a reset, a timeout after the request left) is never re-sent blindly
 * and never forgotten: the attempt says what is known (`sending`, `answered` with Kaspi's id,
 * `created`, `refused`, `not_sent`, `lost`). One concern, created only when missing.
 */
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('kaspi_qr_attempts')) return;
  await knex.schema.createTable('kaspi_qr_attempts', (t) => {
    t.string('external_id', 32).primary(); // sent to Kaspi as ExternalId: 32 lowercase hex
    t.string('idem_key', 200).notNullable();
    t.string('kind', 8).notNullable();
    t.string('account', 64).notNullable();
    t.bigInteger('amount').notNullable(); // tiyn
    t.string('state', 16).notNullable(); // sending answered created refused not_sent lost
    t.string('qr_payment_id', 20).nullable(); // Kaspi's id once an answer was read
    t.bigInteger('payment_id').nullable();
    t.string('error', 255).nullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('finished_at', { precision: 3 }).nullable();
    t.index(['state', 'created_at'], 'kaspi_qr_attempts_state_idx');
    t.index(['idem_key'], 'kaspi_qr_attempts_key_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('kaspi_qr_attempts');
}
