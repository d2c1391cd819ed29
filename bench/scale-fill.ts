/**
 * Fills a migrated database the way years of use would, in SQL (INSERT ... SELECT over a numbers
 * table, in batches), so ten million rows take minutes, not a client loop's hours. Used by
 * `npm run bench:scale` and, at a few thousand rows, by the EXPLAIN test of the admin lists.
 *
 * What it makes, for payment i = 0..payments-1 (ids in time order, like a real table):
 * - received over the `days` before `now`, evenly; account BENCH-xxxxx (i mod accounts);
 *   every 50th a JetPay payment, every 400th declined, the rest credited with a ledger line;
 * - `logPerPayment` request-log rows each (check, pay, a repeated pay), at the payment's time;
 * - a refund for every (payments / refunds)-th payment, success, every 100th of them fatal+flagged.
 */
import type { Db } from '../src/db/db.js';

export interface FillSize {
  payments: number;
  accounts: number;
  logPerPayment: number;
  refunds: number;
  /** How far back the payments go. */
  days: number;
  now?: Date;
  /** Rows per INSERT ... SELECT. */
  batch?: number;
  /**
   * Carry on a fill that stopped half-way (the same size and `now`): every table starts after what it
   * holds already (each batch is one statement, so a batch is in or out whole).
   */
  resume?: boolean;
  /** Told after each batch: table, rows so far, target. */
  progress?: (table: string, done: number, total: number) => void;
}

export interface FillTimes {
  [table: string]: number;
}

const DIGITS =
  'select 0 n union all select 1 union all select 2 union all select 3 union all select 4 ' +
  'union all select 5 union all select 6 union all select 7 union all select 8 union all select 9';

/** 0..99 999 in `gw_fill_numbers`, from a cross join of digits (no recursion limit to mind). */
async function numbers(db: Db): Promise<void> {
  await db.knex.raw('drop table if exists gw_fill_numbers');
  await db.knex.raw('create table gw_fill_numbers (n integer not null primary key)');
  await db.knex.raw(
    `insert into gw_fill_numbers (n) select a.n + 10 * b.n + 100 * c.n + 1000 * d.n + 10000 * e.n ` +
      `from (${DIGITS}) a cross join (${DIGITS}) b cross join (${DIGITS}) c cross join (${DIGITS}) d cross join (${DIGITS}) e`,
  );
}

/** The few expressions the dialects spell differently. */
function sqlFor(db: Db) {
  const my = db.dialect === 'mysql';
  return {
    /** 'prefix' + i padded to `width` digits */
    padded: (prefix: string, expr: string, width: number) =>
      my
        ? `concat('${prefix}', lpad(${expr}, ${width}, '0'))`
        : `('${prefix}' || printf('%0${width}d', ${expr}))`,
    concat: (...parts: string[]) => (my ? `concat(${parts.join(', ')})` : `(${parts.join(' || ')})`),
    /** a stored time (UTC, ms) `ms` milliseconds after the stored time literal `start` */
    timeAfter: (start: string, ms: string) =>
      my
        ? `date_add('${start}', interval (${ms}) * 1000 microsecond)`
        : `strftime('%Y-%m-%d %H:%M:%f', '${start}', '+' || ((${ms}) / 1000.0) || ' seconds')`,
    intDiv: (a: string, b: string) => (my ? `(${a}) div (${b})` : `((${a}) / (${b}))`),
  };
}

const stamp = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/** Runs the fill; returns seconds per table. The database must be migrated and empty (or `resume`). */
export async function fillScale(db: Db, size: FillSize): Promise<FillTimes> {
  const k = db.knex;
  const s = sqlFor(db);
  const batch = Math.min(size.batch ?? 100_000, 100_000);
  const now = size.now ?? new Date();
  const start = stamp(new Date(now.getTime() - size.days * 86_400_000));
  const stepMs = Math.max(1, Math.floor((size.days * 86_400_000) / Math.max(1, size.payments)));
  const times: FillTimes = {};
  const timed = async (table: string, fn: () => Promise<void>) => {
    const t0 = Date.now();
    await fn();
    times[table] = (Date.now() - t0) / 1000;
  };
  if (db.dialect === 'mysql') await k.raw('set session unique_checks = 0, foreign_key_checks = 0');
  await numbers(db);

  const one = async (sql: string): Promise<number | null> => {
    const rows = (await k.raw(sql)) as unknown;
    const list = (db.dialect === 'mysql' ? (rows as [Record<string, unknown>[]])[0] : rows) as Record<
      string,
      unknown
    >[];
    const v = Object.values(list[0] ?? {})[0];
    return v === null || v === undefined ? null : Number(v);
  };
  const done = async (table: string) =>
    size.resume ? ((await one(`select count(*) from ${table}`)) ?? 0) : 0;

  /** Runs `sql(lo)` for lo = from, from + batch... below `total` (n of gw_fill_numbers is 0..99 999). */
  const inBatches = async (
    table: string,
    total: number,
    sql: (lo: number, hi: number) => string,
    from = 0,
  ) => {
    for (let lo = from; lo < total; lo += batch) {
      const hi = Math.min(total, lo + batch);
      await k.raw(sql(lo, hi));
      size.progress?.(table, hi, total);
    }
  };
  // i = lo + n for n < hi - lo: one pass over the numbers table per batch of up to 100 000.
  const over = (lo: number, hi: number) => `from gw_fill_numbers g where g.n < ${hi - lo}`;
  const inChunks = async (table: string, total: number, sql: (lo: number, hi: number) => string) =>
    inBatches(table, total, sql, await done(table));

  await timed('accounts', () =>
    inChunks(
      'accounts',
      size.accounts,
      (lo, hi) =>
        `insert into accounts (account, name, balance, status, created_at, updated_at) ` +
        `select ${s.padded('BENCH-', `${lo} + g.n`, 5)}, ${s.concat("'Scale Payer '", `${lo} + g.n`)}, 0, 'active', '${start}', '${start}' ` +
        over(lo, hi),
    ),
  );

  const i = (lo: number) => `(${lo} + g.n)`;
  await timed('payments', () =>
    inChunks('payments', size.payments, (lo, hi) => {
      const at = s.timeAfter(start, `${i(lo)} * ${stepMs}`);
      const declined = `${i(lo)} % 400 = 7`;
      return (
        `insert into payments (source, txn_id, account, amount, txn_date_raw, txn_date, state, result, comment, ` +
        `billing_ref, attempts, received_at, updated_at, credited_at) select ` +
        `case when ${i(lo)} % 50 = 0 then 'jetpay' else 'kaspi' end, ${s.padded('9', i(lo), 17)}, ` +
        `${s.padded('BENCH-', `${i(lo)} % ${size.accounts}`, 5)}, 1000 + (${i(lo)} * 7919) % 100000, null, ${at}, ` +
        `case when ${declined} then 'declined' else 'credited' end, case when ${declined} then 5 else 0 end, ` +
        `case when ${declined} then 'Declined' else 'OK' end, case when ${declined} then null else 'ledger' end, ` +
        `0, ${at}, ${at}, case when ${declined} then null else ${at} end ` +
        over(lo, hi)
      );
    }),
  );
  // Ids have gaps (InnoDB hands INSERT ... SELECT its ids in blocks): the passes below walk id
  // ranges up to the last id, not the payment count.
  const firstId = (await one('select min(id) from payments')) ?? 1;
  const lastId = (await one('select max(id) from payments')) ?? 0;
  /** Runs `sql(lo, hi)` over payment ids [lo, hi) in steps of `step`, from `from` to the last id. */
  const overIds = async (
    table: string,
    from: number,
    step: number,
    sql: (lo: number, hi: number) => string,
  ) => {
    for (let lo = from; lo <= lastId; lo += step) {
      await k.raw(sql(lo, lo + step));
      size.progress?.(table, Math.min(lastId, lo + step) - firstId, lastId - firstId + 1);
    }
  };

  await timed('account_ledger', async () => {
    const after = size.resume ? await one('select max(payment_id) from account_ledger') : null;
    await overIds(
      'account_ledger',
      after === null ? firstId : after + 1,
      batch,
      (lo, hi) =>
        `insert into account_ledger (payment_id, kind, ref, account, amount, created_at) ` +
        `select id, 'credit', '', account, amount, received_at from payments ` +
        `where id >= ${lo} and id < ${hi} and state = 'credited'`,
    );
  });

  // Request log: `logPerPayment` rows per payment, the payments' own txn_ids and times. One statement
  // per range, without ORDER BY: sorting the join would spill a temporary table to disk.
  const kinds = ['check', 'pay', 'pay'].slice(0, Math.max(1, Math.min(3, size.logPerPayment)));
  const kindSql = kinds.map((c, j) => `select ${j} j, '${c}' c`).join(' union all ');
  const per = Math.max(1, Math.floor(batch / kinds.length));
  await timed('request_log', async () => {
    // The payments' txn_ids grow with their ids: the greatest one logged says where the last range ended.
    const lastTxn = size.resume
      ? ((await k('request_log').max({ t: 'txn_id' })) as { t: string | null }[])[0]?.t
      : null;
    const after = lastTxn
      ? await one(`select max(id) from payments where txn_id = '${String(lastTxn).replace(/[^0-9]/g, '')}'`)
      : null;
    const answer = s.concat(
      `'<?xml version="1.0" encoding="UTF-8"?><response><txn_id>'`,
      'p.txn_id',
      `'</txn_id><prv_txn>'`,
      'p.id',
      `'</prv_txn><sum>10.00</sum><result>0</result><comment>OK</comment></response>'`,
    );
    await overIds(
      'request_log',
      after === null ? firstId : after + 1,
      per,
      (lo, hi) =>
        `insert into request_log (at, channel, request_id, client_ip, method, request, command, txn_id, ` +
        `http_status, result, comment, response, duration_ms) ` +
        `select p.received_at, 'kaspi', ${s.padded('r', 'p.id', 12)}, '10.0.0.1', 'GET', ` +
        `${s.concat("'command='", 'k.c', "'&txn_id='", 'p.txn_id', "'&account='", 'p.account', "'&sum=10.00'")}, ` +
        `k.c, p.txn_id, 200, '0', 'OK', ${answer}, 3 ` +
        `from payments p cross join (${kindSql}) k where p.id >= ${lo} and p.id < ${hi}`,
    );
  });

  // A refund for every `every`-th payment (by id), as long as there are refunds to make.
  // Over the payment count, not the id span: with the gaps, one id in `every` would fall short.
  const every = Math.max(1, Math.floor(size.payments / Math.max(1, size.refunds)));
  await timed('refunds', async () => {
    let made = await done('refunds');
    const after = size.resume ? await one('select max(payment_id) from refunds') : null;
    for (
      let lo = after === null ? firstId : after + 1;
      lo <= lastId && made < size.refunds;
      lo += batch * every
    ) {
      const hi = lo + batch * every;
      const fatal = `${s.intDiv('p.id', String(every))} % 100 = 50`;
      await k.raw(
        `insert into refunds (refund_identificator, payment_id, txn_id, account, amount, return_amount, amount_unit, ` +
          `reason, status, polls, flagged_at, flag_reason, created_by, created_at, updated_at, finished_at) ` +
          `select ${s.padded('scale-', 'p.id', 10)}, p.id, p.txn_id, p.account, 100, 1, 'tenge', 'scale fill', ` +
          `case when ${fatal} then 'fatal' else 'success' end, 1, case when ${fatal} then p.received_at else null end, ` +
          `case when ${fatal} then 'scale fill' else null end, 'scale', p.received_at, p.received_at, p.received_at ` +
          `from payments p where p.id >= ${lo} and p.id < ${hi} and p.id % ${every} = ${3 % every} and p.state = 'credited' ` +
          `order by p.id limit ${size.refunds - made}`,
      );
      made = (await one('select count(*) from refunds')) ?? 0;
      size.progress?.('refunds', made, size.refunds);
    }
  });
  await k.raw('drop table if exists gw_fill_numbers');
  if (db.dialect === 'mysql') {
    await k.raw('set session unique_checks = 1, foreign_key_checks = 1');
    for (const t of ['accounts', 'payments', 'account_ledger', 'request_log', 'refunds'])
      await k.raw(`analyze table ${t}`);
  } else {
    await k.raw('analyze');
  }
  return times;
}
