import type { Knex } from 'knex';
import { migrations, type Migration } from '../../db/migrations/index.js';
import { getLogger } from '../log/logger.js';
import { commitConflict } from './commit-retry.js';
import type { Db } from './db.js';

const log = getLogger('db');

class ListSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return Object.keys(migrations).sort();
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Migration> {
    return migrations[name] as Migration;
  }
}

/**
 * Runs every pending migration under knex's lock. Several workers starting at once: the ones
 * that find the lock taken wait for it and then find nothing left to do.
 */
export async function migrateLatest(db: Db, { waitMs = 60000 } = {}): Promise<string[]> {
  const started = Date.now();
  for (;;) {
    try {
      const [, done] = (await db.knex.migrate.latest({ migrationSource: new ListSource() })) as [
        number,
        string[],
      ];
      if (done.length > 0) log.info('migrations applied', { migrations: done });
      return done;
    } catch (e) {
      // On Galera the loser of two hosts taking knex's lock row at once gets 1213 at COMMIT, not
      // "already locked": the same case, it waits and then finds nothing left to do.
      const locked = (e instanceof Error && /already locked/i.test(e.message)) || commitConflict(e) !== null;
      if (!locked || Date.now() - started > waitMs) throw e;
      await new Promise((r) => setTimeout(r, 250 + Math.random() * 250));
    }
  }
}

export async function migrateRollbackAll(db: Db): Promise<void> {
  await db.knex.migrate.rollback({ migrationSource: new ListSource() }, true);
}
