import type { Knex } from 'knex';

/**
 * The people who sign in to the console. `password_hash` is scrypt's (memory-hard), with its
 * parameters and salt in the text; `lang` is the language the person last chose.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('console_users'))) {
    await knex.schema.createTable('console_users', (t) => {
      t.bigIncrements('id');
      t.string('login', 64).notNullable();
      t.string('password_hash', 255).notNullable();
      t.string('role', 16).notNullable(); // viewer | operator | admin
      t.boolean('disabled').notNullable().defaultTo(false);
      t.string('lang', 8).nullable();
      t.datetime('created_at', { precision: 3 }).notNullable();
      t.datetime('updated_at', { precision: 3 }).notNullable();
      t.datetime('last_login_at', { precision: 3 }).nullable();
      t.datetime('password_changed_at', { precision: 3 }).nullable();
      t.unique(['login'], { indexName: 'console_users_login_unique' });
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('console_users');
}
