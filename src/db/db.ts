import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { getLogger } from '../log/logger.js';

/** knex's own warnings go through our logger (and its masking), not straight to the console. */
const knexLog = (() => {
  const log = getLogger('knex');
  const text = (m: unknown) =>
    typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m);
  return {
    warn: (m: unknown) => log.warn(text(m)),
    error: (m: unknown) => log.error(text(m)),
    deprecate: (m: unknown) => log.warn(text(m)),
    debug: (m: unknown) => log.debug(text(m)),
  };
})();

export type Dialect = 'mysql' | 'sqlite';

export interface Db {
  knex: Knex;
  dialect: Dialect;
  /** Description safe to log: no password. */
  describe: string;
  /** Attempts of a write the database aborted for a conflict (src/db/commit-retry.ts); 1 = no retry. */
  commitAttempts?: number;
  close(): Promise<void>;
}

export interface DbOptions {
  poolMax?: number;
  /** MySQL: how long a statement may wait for a row lock, seconds. */
  lockWaitTimeoutS?: number;
  /** DB_COMMIT_ATTEMPTS: attempts of a write aborted by a deadlock or a Galera certification failure. */
  commitAttempts?: number;
  /**
   * DB_WSREP_SYNC_WAIT (Galera): `SET SESSION wsrep_sync_wait = N` on every pool connection, so a
   * read waits until this node has applied what the cluster committed before it (causal reads).
   */
  wsrepSyncWait?: number;
}

/**
 * mysql2 is pinned so no number loses digits: BIGINT and DECIMAL come back as strings
 * (supportBigNumbers + bigNumberStrings), dates as strings in UTC. Every session runs in UTC
 * whatever the server's zone, so times written and read agree across hosts.
 */
export function createDb(url: string, opts: DbOptions = {}): Db {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length) || ':memory:';
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const knex = knexFactory({
      client: 'better-sqlite3',
      connection: { filename: file },
      useNullAsDefault: true,
      compileSqlOnError: false,
      log: knexLog,
      pool: {
        min: 1,
        max: 1,
        afterCreate: (
          conn: { pragma(s: string): unknown },
          done: (err: Error | null, conn: unknown) => void,
        ) => {
          try {
            // WAL lets readers in other processes (the CLI) work beside the server; busy_timeout
            // makes a second writer wait instead of failing at once.
            conn.pragma('journal_mode = WAL');
            conn.pragma('busy_timeout = 5000');
            conn.pragma('foreign_keys = ON');
            done(null, conn);
          } catch (e) {
            done(e as Error, conn);
          }
        },
      },
    });
    return {
      knex,
      dialect: 'sqlite',
      describe: `sqlite:${file}`,
      commitAttempts: opts.commitAttempts,
      close: () => knex.destroy(),
    };
  }
  const u = new URL(url.replace(/^mariadb:/, 'mysql:'));
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const knex = knexFactory({
    client: 'mysql2',
    connection: {
      // ?socket=/run/mysqld/mysqld.sock: a server on the same host, over its unix socket.
      ...(u.searchParams.get('socket')
        ? { socketPath: u.searchParams.get('socket') as string }
        : { host: u.hostname, port: Number(u.port || 3306) }),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: 'Z',
      connectTimeout: 5000,
    },
    pool: {
      min: 0,
      max: opts.poolMax ?? 10,
      acquireTimeoutMillis: 10000,
      afterCreate: (
        conn: { query(sql: string, cb: (err: Error | null) => void): void },
        done: (err: Error | null, conn: unknown) => void,
      ) => {
        const lockWait = opts.lockWaitTimeoutS ?? 10;
        const syncWait =
          opts.wsrepSyncWait === undefined ? '' : `, wsrep_sync_wait = ${Number(opts.wsrepSyncWait)}`;
        conn.query(
          `SET time_zone = '+00:00', innodb_lock_wait_timeout = ${Number(lockWait)}${syncWait}`,
          (err) => done(err, conn),
        );
      },
    },
    acquireConnectionTimeout: 10000,
    // An error's message then shows `?` where the values were: a token or a password bound into a
    // query never reaches a log through it.
    compileSqlOnError: false,
    log: knexLog,
  });
  return {
    knex,
    dialect: 'mysql',
    describe: `mysql://${u.hostname}:${u.port || 3306}/${database}`,
    commitAttempts: opts.commitAttempts,
    close: () => knex.destroy(),
  };
}

/** A duplicate of a unique key: the database decided this row already exists. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number };
  return (
    err?.code === 'ER_DUP_ENTRY' ||
    err?.errno === 1062 ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** A conflict the database resolved by aborting us: safe to run the transaction again. */
export function isRetryableTxError(e: unknown): boolean {
  const err = e as { code?: string; errno?: number };
  return err?.code === 'ER_LOCK_DEADLOCK' || err?.errno === 1213 || err?.code === 'SQLITE_BUSY';
}

/** UTC wall time as stored in DATETIME(3)/TEXT columns: sorts and compares the same on both databases. */
export function dbTime(d: Date = new Date()): string {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

export function fromDbTime(v: string | Date | null | undefined): Date | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  return new Date(`${v.replace(' ', 'T')}Z`);
}

export async function ping(db: Db, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.knex.raw('select 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('ping timeout')), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
