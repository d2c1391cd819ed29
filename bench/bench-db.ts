import fs from 'node:fs';
import path from 'node:path';
import knexFactory from 'knex';
import { createDb, dbTime, type Db } from '../src/db/db.js';
import { migrateLatest } from '../src/db/migrate.js';

/** Connects to the server of a mysql:// URL without naming a database. */
export function mysqlAdmin(url: string) {
  const u = new URL(url.replace(/^mariadb:/, 'mysql:'));
  return {
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    knex: knexFactory({
      client: 'mysql2',
      connection: {
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        connectTimeout: 5000,
      },
      pool: { min: 0, max: 1 },
    }),
  };
}

/**
 * Drops and creates the bench database (MySQL) or a fresh file (SQLite), then migrates it with this
 * checkout's migrations; `migrate: false` leaves it empty for another checkout to migrate with its own.
 */
export async function resetDatabase(url: string, opts: { migrate?: boolean } = {}): Promise<void> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } else {
    const { database, knex } = mysqlAdmin(url);
    if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`refusing odd database name "${database}"`);
    try {
      await knex.raw(`DROP DATABASE IF EXISTS \`${database}\``);
      await knex.raw(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    } finally {
      await knex.destroy();
    }
  }
  if (opts.migrate === false) return;
  const db = createDb(url);
  try {
    await migrateLatest(db);
  } finally {
    await db.close();
  }
}

export const accountName = (i: number) => `BENCH-${String(i).padStart(5, '0')}`;

/** Accounts BENCH-00000.. with a zero balance, so the balances must add up to the credits. */
export async function seedAccounts(db: Db, n: number): Promise<void> {
  const now = dbTime();
  const rows = Array.from({ length: n }, (_, i) => ({
    account: accountName(i),
    name: `Bench Payer ${i}`,
    balance: 0,
    status: 'active',
    created_at: now,
    updated_at: now,
  }));
  for (let i = 0; i < rows.length; i += 200) await db.knex('accounts').insert(rows.slice(i, i + 200));
}

export interface LedgerReport {
  payments: number;
  credited: number;
  credits: number;
  /** payments with more than one credit line: must be 0 */
  doubled: number;
  /** credited payments without a credit line, or credit lines without a credited payment: must be 0 */
  orphans: number;
  /** payments neither final nor failed (crediting/pending): must be 0 once everything settled */
  unfinished: number;
  /** sum of balances minus credited amounts and refund lines (every account started at 0): must be 0 */
  balanceGap: string;
  ok: boolean;
}

const n = (rows: unknown[]): number => Number(Object.values((rows[0] ?? {}) as object)[0] ?? 0);

/** The bank invariant, read from the database, never from the answers. */
export async function checkLedger(db: Db): Promise<LedgerReport> {
  const k = db.knex;
  const payments = n(await k('payments').count({ c: '*' }));
  const credited = n(await k('payments').where({ state: 'credited' }).count({ c: '*' }));
  const credits = n(await k('account_ledger').where({ kind: 'credit' }).count({ c: '*' }));
  const doubled = n(
    await k
      .from(
        k('account_ledger')
          .where({ kind: 'credit' })
          .groupBy('payment_id')
          .havingRaw('count(*) > 1')
          .select('payment_id')
          .as('d'),
      )
      .count({ c: '*' }),
  );
  const orphans =
    n(
      await k('payments as p')
        .leftJoin('account_ledger as l', function () {
          this.on('l.payment_id', '=', 'p.id').andOn('l.kind', '=', k.raw('?', ['credit']));
        })
        .where('p.state', 'credited')
        .whereNull('l.id')
        .count({ c: '*' }),
    ) +
    n(
      await k('account_ledger as l')
        .leftJoin('payments as p', 'p.id', 'l.payment_id')
        .where('l.kind', 'credit')
        .where((q) => q.whereNull('p.id').orWhereNot('p.state', 'credited'))
        .count({ c: '*' }),
    );
  const unfinished = n(
    await k('payments').whereIn('state', ['received', 'crediting', 'pending']).count({ c: '*' }),
  );
  const balances = BigInt(String(n(await k('accounts').sum({ s: 'balance' })) || 0));
  const amounts = BigInt(
    String(n(await k('payments').where({ state: 'credited' }).sum({ s: 'amount' })) || 0),
  );
  // Refund lines carry a negative amount (src/refunds/refund-billing.ts): what went back to the payer.
  const refunded = BigInt(
    String(n(await k('account_ledger').where({ kind: 'refund' }).sum({ s: 'amount' })) || 0),
  );
  const balanceGap = (balances - amounts - refunded).toString();
  return {
    payments,
    credited,
    credits,
    doubled,
    orphans,
    unfinished,
    balanceGap,
    ok: credited === credits && doubled === 0 && orphans === 0 && unfinished === 0 && balanceGap === '0',
  };
}
