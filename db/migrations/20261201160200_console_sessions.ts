import type { Knex } from 'knex';

/**
 * Console sessions, in the database so every pm2 worker and host sees the same ones. The cookie
 * holds a random token; only its SHA-256 is stored, so a copy of this table signs nobody in.
 * Sign-in failures are rows too: the lock after 5 in 15 minutes holds across workers.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('console_sessions'))) {
    await knex.schema.createTable('console_sessions', (t) => {
      t.string('token_hash', 64).primary();
      t.bigInteger('user_id').notNullable();
      t.string('csrf_token', 64).notNullable();
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('last_seen_at', { precision: 3 }).notNullable();
      t.datetime('expires_at', { precision: 3 }).notNullable(); // absolute end
      t.string('client_ip', 64).nullable();
      t.index(['user_id'], 'console_sessions_user_idx');
      t.index(['expires_at'], 'console_sessions_expires_idx');
    });
  }
  if (!(await knex.schema.hasTable('console_sign_in_failures'))) {
    await knex.schema.createTable('console_sign_in_failures', (t) => {
      t.bigIncrements('id');
      t.string('login', 64).notNullable();
      t.datetime('at', { precision: 3 }).notNullable();
      t.string('client_ip', 64).nullable();
      t.index(['login', 'at'], 'console_failures_login_at_idx');
    });
  }
  if (!(await knex.schema.hasTable('console_login_locks'))) {
    await knex.schema.createTable('console_login_locks', (t) => {
      t.string('login', 64).primary();
      t.datetime('locked_until', { precision: 3 }).notNullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('console_login_locks');
  await knex.schema.dropTableIfExists('console_sign_in_failures');
  await knex.schema.dropTableIfExists('console_sessions');
}
