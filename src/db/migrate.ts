import { randomBytes } from 'node:crypto';
import os from 'node:os';
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
 * MySQL: the right to migrate, as one row taken by a committed conditional update (a lease that
 * runs out, so a host that died migrating does not block the others for ever). knex's own lock is
 * not enough on Galera: knex takes it inside the transaction the migrations run in, and the first
 * DDL statement commits that transaction implicitly, so two nodes both held it and both migrated
 * (seen: a column added twice, the stored procedure dropped by one while the other created it).
 * This row is written and committed before anything else: two hosts taking it on two nodes
 * conflict at certification (1213), on one server the row lock orders them. Like knex's own
 * tables it is made here, not by a migration: it must exist before the first migration runs.
 */
const LOCK_TABLE = 'gw_migrate_lock';
const LOCK_MS = 120_000;

async function takeMigrateLock(db: Db, owner: string): Promise<boolean> {
  const k = db.knex;
  await k.raw(
    `create table if not exists \`${LOCK_TABLE}\` (\`id\` int not null primary key, \`owner\` varchar(100) null, \`until_at\` datetime(3) null) engine=InnoDB`,
  );
  try {
    await k.raw(
      `insert ignore into \`${LOCK_TABLE}\` (\`id\`, \`owner\`, \`until_at\`) values (1, null, null)`,
    );
    const [r] = (await k.raw(
      `update \`${LOCK_TABLE}\` set \`owner\` = ?, \`until_at\` = utc_timestamp(3) + interval ? second
        where \`id\` = 1 and (\`owner\` is null or \`until_at\` < utc_timestamp(3))`,
      [owner, LOCK_MS / 1000],
    )) as [{ affectedRows: number }];
    return r.affectedRows === 1;
  } catch (e) {
    // Another host took it at the same moment on another node: it is theirs.
    if (commitConflict(e) !== null) return false;
    throw e;
  }
}

async function freeMigrateLock(db: Db, owner: string): Promise<void> {
  await db.knex.raw(
    `update \`${LOCK_TABLE}\` set \`owner\` = null, \`until_at\` = null where \`id\` = 1 and \`owner\` = ?`,
    [owner],
  );
}

/**
 * Runs every pending migration under knex's lock (and on MySQL under the row above first).
 * Several workers or hosts starting at once: the ones that find the lock taken wait for it and
 * then find nothing left to do.
 */
export async function migrateLatest(db: Db, { waitMs = 60000 } = {}): Promise<string[]> {
  const started = Date.now();
  const owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`.slice(0, 100);
  for (;;) {
    let held = false;
    try {
      if (db.dialect === 'mysql') {
        held = await takeMigrateLock(db, owner);
        if (!held) throw new Error('Migration table is already locked (gw_migrate_lock)');
      }
      const [, done] = (await db.knex.migrate.latest({ migrationSource: new ListSource() })) as [
        number,
        string[],
      ];
      if (done.length > 0) log.info('migrations applied', { migrations: done });
      return done;
    } catch (e) {
      // On Galera the loser of two hosts taking a lock row at once gets 1213 at COMMIT, not
      // "already locked": the same case, it waits and then finds nothing left to do.
      const locked =
        (e instanceof Error && /already locked|Deadlock found/i.test(e.message)) ||
        commitConflict(e) !== null;
      if (!locked || Date.now() - started > waitMs) throw e;
      await new Promise((r) => setTimeout(r, 250 + Math.random() * 250));
    } finally {
      if (held) await freeMigrateLock(db, owner);
    }
  }
}

export async function migrateRollbackAll(db: Db): Promise<void> {
  await db.knex.migrate.rollback({ migrationSource: new ListSource() }, true);
}
