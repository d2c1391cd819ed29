/**
 * `npm run bench:scale`: what the gateway costs when its database holds years of use, measured in
 * one run beside an empty database of the same server.
 *
 * 1. Fills `SCALE_DATABASE_URL` (default mysql://root@127.0.0.1:3306/gw_scale, dropped and made
 *    again) in SQL (bench/scale-fill.ts): SCALE_PAYMENTS payments (10 000 000) over SCALE_ACCOUNTS
 *    accounts (100 000) and SCALE_DAYS days (1095), SCALE_LOG_PER_PAYMENT request-log rows per
 *    payment (3: 30 000 000), SCALE_REFUNDS refunds (100 000), a ledger line per credited payment;
 *    timed per table. The empty database (the same name + `_empty`) gets the same accounts only.
 * 2. A gateway per database (child processes, production settings), interleaved rounds of pay and
 *    check at saturation (SCALE_ROUNDS × SCALE_ROUND_S, 16 connections): req/s, p99, full/empty.
 * 3. The admin API's lists and searches, first page and a deep page, SCALE_SAMPLES requests each, one
 *    at a time, with a random account/cursor/day/txn_id per request (cold pages, not one cached
 *    answer): p50/p99 against 50 ms; one payment's request-log evidence against 20 ms.
 * 3b. The same for the console's list pages (SCALE_STEPS console, console-server): payments list
 *    and search, one day, one payment's page, refunds, audit, attention, signed in as a bench user.
 * 4. The retention job (the gateway's own, through its lease: IPC to bench/gateway-server.ts) purging
 *    the oldest month of request log while pays run at saturation, between two pay runs without it:
 *    pay p99 with / without against 1.5×.
 * 5. The same on SQLite with SCALE_SQLITE_PAYMENTS payments (0 to leave it out).
 *
 * SCALE_REUSE=1 keeps a filled database that already holds SCALE_PAYMENTS payments (no fill; for
 * working on steps 2–4), SCALE_KEEP=1 leaves the databases in place at the end (default: dropped),
 * SCALE_FILL_ONLY=1 fills, prints the fill table and stops (the databases kept), SCALE_RESUME=1
 * carries on a fill that stopped half-way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import supertest from 'supertest';
import { loadConfig } from '../src/config/config.js';
import { createDb, type Db } from '../src/db/db.js';
import { configureLogger } from '../src/log/logger.js';
import { migrateLatest } from '../src/db/migrate.js';
import { buildGateway } from '../src/wiring/wiring.js';
import { captureSelects } from '../test/support/query-plan.js';
import { accountName, mysqlAdmin, resetDatabase } from './bench-db.js';
import { startChild, type Child } from './children.js';
import { load, pathMaker, txnIds, type Endpoint, type LoadResult } from './load.js';
import { cpuMs } from './proc-cpu.js';
import { fillScale, type FillSize } from './scale-fill.js';

const env = process.env;
const num = (name: string, dflt: number) => Number(env[name] ?? dflt);
const SIZE = {
  payments: num('SCALE_PAYMENTS', 10_000_000),
  accounts: num('SCALE_ACCOUNTS', 100_000),
  logPerPayment: num('SCALE_LOG_PER_PAYMENT', 3),
  refunds: num('SCALE_REFUNDS', 100_000),
  days: num('SCALE_DAYS', 1095),
};
const ROUNDS = num('SCALE_ROUNDS', 3);
const ROUND_S = num('SCALE_ROUND_S', 10);
const SAMPLES = num('SCALE_SAMPLES', 200);
const PURGE_BASE_S = num('SCALE_PURGE_BASE_S', 15);
const SQLITE_PAYMENTS = num('SCALE_SQLITE_PAYMENTS', 1_000_000);
const SERVER_SAMPLES = num('SCALE_SERVER_SAMPLES', 30);
const STEPS = new Set((env.SCALE_STEPS ?? 'rounds,admin,console,server,console-server,purge').split(','));
const MYSQL_URL = env.SCALE_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/gw_scale';
const ADMIN_KEY = 'bench-admin-key-0123456789';
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-scale-'));

const out: string[] = [];
const say = (line = '') => {
  console.log(line);
  out.push(line);
};
const note = (line: string) => console.error(`  … ${line}`);
const count = async (db: Db, table: string) =>
  Number(Object.values(((await db.knex(table).count({ c: '*' })) as object[])[0] ?? {})[0] ?? 0);
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function emptyUrlOf(url: string): string {
  if (url.startsWith('sqlite:')) return url.replace(/(\.db)?$/, '-empty.db');
  const u = new URL(url);
  u.pathname = `${u.pathname}_empty`;
  return u.toString();
}

async function dropDatabase(url: string): Promise<void> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    return;
  }
  const { database, knex } = mysqlAdmin(url);
  try {
    if (/^[A-Za-z0-9_]+$/.test(database)) await knex.raw(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await knex.destroy();
  }
}

async function databaseBytes(db: Db, url: string): Promise<number> {
  if (db.dialect === 'sqlite') {
    const file = url.slice('sqlite:'.length);
    return [file, `${file}-wal`].reduce((s, f) => s + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
  }
  const rows = (await db.knex.raw(
    'select sum(data_length + index_length) b from information_schema.tables where table_schema = database()',
  )) as [{ b: string | number }[]];
  return Number(rows[0][0]?.b ?? 0);
}

/** Fills (or reuses) the big database and makes the empty one; prints the fill table. */
async function prepare(url: string, size: FillSize): Promise<void> {
  const reuse = env.SCALE_REUSE === '1';
  let filled = false;
  if (reuse) {
    try {
      const db = createDb(url);
      try {
        filled = (await count(db, 'payments')) >= size.payments;
      } finally {
        await db.close();
      }
    } catch {
      filled = false;
    }
  }
  const emptyUrl = emptyUrlOf(url);
  await resetDatabase(emptyUrl);
  const empty = createDb(emptyUrl);
  try {
    await fillScale(empty, { ...size, payments: 0, refunds: 0 });
  } finally {
    await empty.close();
  }
  if (filled) {
    say(`fill: reused ${url.replace(/\/\/[^@]*@/, '//')} (SCALE_REUSE=1), not filled again in this run`);
    // A fill kept from older code gets this code's migrations (a new index on 10M payments takes
    // minutes: done here, timed, not inside a gateway's start).
    const t0 = Date.now();
    const db = createDb(url);
    try {
      await migrateLatest(db);
    } finally {
      await db.close();
    }
    say(`fill: reused database migrated to this code in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return;
  }
  const resume = env.SCALE_RESUME === '1';
  if (!resume) await resetDatabase(url);
  const db = createDb(url);
  try {
    const tables = ['accounts', 'payments', 'account_ledger', 'request_log', 'refunds'];
    const before = new Map<string, number>();
    for (const t of tables) before.set(t, resume ? await count(db, t) : 0);
    const t0 = Date.now();
    let last = 0;
    const times = await fillScale(db, {
      ...size,
      resume,
      progress: (table, done, total) => {
        if (Date.now() - last > 15000) {
          last = Date.now();
          note(`fill ${table} ${done}/${total} at ${Math.round((Date.now() - t0) / 1000)} s`);
        }
      },
    });
    const total = (Date.now() - t0) / 1000;
    say(
      `fill of ${db.describe} in SQL: ${fmt(total / 60, 1)} min in all` +
        (resume
          ? ' (SCALE_RESUME=1: carried on a fill that had stopped; the times are this run’s part only)'
          : ''),
    );
    say('| table | rows | rows this run | seconds | rows/s |');
    say('| --- | ---: | ---: | ---: | ---: |');
    for (const [table, s] of Object.entries(times)) {
      const all = await count(db, table);
      const rows = all - (before.get(table) ?? 0);
      say(
        `| ${table} | ${all.toLocaleString('en')} | ${rows.toLocaleString('en')} | ${fmt(s, 0)} | ` +
          `${Math.round(rows / Math.max(s, 0.001)).toLocaleString('en')} |`,
      );
    }
    say(`database size (data + indexes): ${fmt((await databaseBytes(db, url)) / 2 ** 30, 1)} GiB`);
  } finally {
    await db.close();
  }
}

function gatewayEnv(url: string, retentionDays = 3650): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: url,
    ADMIN_API_KEY: ADMIN_KEY,
    KASPI_ALLOWED_IPS: '127.0.0.0/8',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    SEED_DEMO_ACCOUNTS: 'false',
    REQUEST_LOG_RETENTION_DAYS: String(retentionDays),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};

/** Interleaved rounds of pay and check on both gateways; a table of medians. */
async function payAndCheck(kind: string, empty: Child, full: Child): Promise<void> {
  const nextTxn = txnIds('6');
  const targets: [string, Child, Endpoint][] = [
    ['empty', empty, 'pay'],
    ['full', full, 'pay'],
    ['empty', empty, 'check'],
    ['full', full, 'check'],
  ];
  for (const [, c, e] of targets)
    await load({
      label: 'warm',
      port: c.port,
      path: pathMaker(e, SIZE.accounts, nextTxn),
      connections: 4,
      amount: 500,
    });
  const got = new Map<string, { r: LoadResult; cpu: number }[]>();
  for (let round = 0; round < ROUNDS; round++) {
    // each round starts one target later, so drift on a shared machine hits every column
    for (let j = 0; j < targets.length; j++) {
      const [db, c, e] = targets[(j + round) % targets.length] as [string, Child, Endpoint];
      const c0 = cpuMs(c.child.pid) as number;
      const r = await load({
        label: `${e} ${db}`,
        port: c.port,
        path: pathMaker(e, SIZE.accounts, nextTxn),
        connections: 16,
        seconds: ROUND_S,
      });
      const cpu = (((cpuMs(c.child.pid) as number) - c0) * 1000) / Math.max(1, r.requests);
      note(`round ${round + 1} ${e} ${db}: ${fmt(r.rps, 0)} req/s, p99 ${r.p99} ms, ${fmt(cpu, 0)} µs`);
      const key = `${e} ${db}`;
      got.set(key, [...(got.get(key) ?? []), { r, cpu }]);
    }
  }
  say();
  say(
    `${kind}: pay and check at 16 connections, ${ROUNDS} interleaved rounds × ${ROUND_S} s (median of rounds)`,
  );
  say(
    '| endpoint | database | req/s | p50 ms | p99 ms | errors | gateway CPU µs/req | req/s full/empty, median (rounds) | p99 full/empty, median (rounds) |',
  );
  say('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const e of ['pay', 'check']) {
    const m = (db: string) => {
      const xs = got.get(`${e} ${db}`) ?? [];
      return {
        rps: median(xs.map((x) => x.r.rps)),
        p50: median(xs.map((x) => x.r.p50)),
        p99: median(xs.map((x) => x.r.p99)),
        errors: xs.reduce((s, x) => s + x.r.errors, 0),
        cpu: median(xs.map((x) => x.cpu)),
      };
    };
    const a = m('empty');
    const b = m('full');
    // Ratios within a round (the two ran back to back), then their median: steadier on a shared
    // machine than a ratio of medians taken from different rounds.
    const rounds = (pick: (x: LoadResult) => number) => {
      const xs = got.get(`${e} empty`) ?? [];
      const ys = got.get(`${e} full`) ?? [];
      return ys.map((y, i) => pick(y.r) / pick((xs[i] as { r: LoadResult }).r));
    };
    const rpsRatios = rounds((x) => x.rps);
    const p99Ratios = rounds((x) => x.p99);
    const show = (xs: number[]) => `${fmt(median(xs), 2)} (${xs.map((x) => fmt(x, 2)).join(', ')})`;
    for (const [db, v] of [
      ['empty', a],
      ['full', b],
    ] as const)
      say(
        `| ${e} | ${db} | ${fmt(v.rps, 0)} | ${fmt(v.p50)} | ${fmt(v.p99)} | ${v.errors} | ${fmt(v.cpu, 0)} | ` +
          (db === 'full' ? `${show(rpsRatios)} | ${show(p99Ratios)} |` : '| |'),
      );
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
const rand = (n: number) => Math.floor(Math.random() * n);

type Which = 'admin' | 'console';
type Case = [name: string, path: () => string, goalMs: number];

/** What the admin API (or the console's list pages) is asked, with a fresh parameter per request. */
async function adminCases(db: Db, size: FillSize, which: Which = 'admin'): Promise<Case[]> {
  const k = db.knex;
  const bounds = (await k('payments').min({ lo: 'id' }).max({ hi: 'id' })) as { lo: string; hi: string }[];
  const lo = Number(bounds[0]?.lo ?? 1);
  const hi = Number(bounds[0]?.hi ?? 1);
  const [oldest] = (await k('payments').min({ at: 'received_at' })) as { at: string }[];
  // payments whose request log survives any purge of this run: the newer half
  const txnOf = (i: number) => `9${String(i).padStart(17, '0')}`;
  const paymentIndex = () => Math.floor(size.payments / 2) + rand(Math.floor(size.payments / 2));
  const refundTxns = (await k('refunds').orderBy('id').limit(2000).pluck('txn_id')) as string[];
  const deep = (share: number) => String(lo + Math.floor((hi - lo) * share * Math.random()));
  const acct = () => accountName(rand(size.accounts));
  const dayMs = 86_400_000;
  const oldestMs = new Date(
    `${String(oldest?.at ?? new Date().toISOString())
      .replace(' ', 'T')
      .replace(/Z?$/, 'Z')}`,
  ).getTime();
  const day = () => {
    const d = new Date(oldestMs + (rand(size.days - 2) + 1) * dayMs).toISOString().slice(0, 10);
    const next = new Date(new Date(`${d}T00:00:00Z`).getTime() + dayMs).toISOString().slice(0, 10);
    return `from=${d}&to=${next}`;
  };
  const pick = <T>(xs: T[]) => xs[rand(xs.length)] as T;
  if (which === 'console') {
    // The console's from/to are days (Kazakhstan dates), both ends included: one day is from=d&to=d.
    const oneDay = () => {
      const d = new Date(oldestMs + (rand(size.days - 2) + 1) * dayMs).toISOString().slice(0, 10);
      return `from=${d}&to=${d}`;
    };
    return [
      ['payments, first page', () => '/console/payments', 50],
      ['payments, a deep page (oldest 10%)', () => `/console/payments?before=${deep(0.1)}`, 50],
      ['search by account, first page', () => `/console/payments?q=${acct()}`, 50],
      ['search by account, a deep page', () => `/console/payments?q=${acct()}&before=${deep(0.5)}`, 50],
      ['search by txn_id', () => `/console/payments?q=${txnOf(paymentIndex())}`, 50],
      ['payments declined, a deep page', () => `/console/payments?state=declined&before=${deep(0.1)}`, 50],
      ['payments of one day (any day)', () => `/console/payments?${oneDay()}`, 50],
      ['one payment (refunds, evidence, audit, ledger)', () => `/console/payments/${deep(1)}`, 50],
      ['refunds, first page', () => '/console/refunds', 50],
      ['refunds, a deep page', () => `/console/refunds?before=${rand(size.refunds / 10) + 1}`, 50],
      ['refunds flagged', () => '/console/refunds?flagged=true', 50],
      ['audit, first page', () => '/console/audit', 50],
      [
        'attention (stuck credits, fatal and flagged refunds, JetPay, QR, reconciliation)',
        () => '/console/attention',
        50,
      ],
    ];
  }
  const cases: Case[] = [
    ['payments, first page', () => '/api/payments?limit=50', 50],
    ['payments, a deep page (oldest 10%)', () => `/api/payments?limit=50&before=${deep(0.1)}`, 50],
    ['payments of an account, first page', () => `/api/payments?account=${acct()}&limit=50`, 50],
    [
      'payments of an account, a deep page',
      () => `/api/payments?account=${acct()}&limit=50&before=${deep(0.5)}`,
      50,
    ],
    ['payments declined, first page', () => '/api/payments?status=declined&limit=50', 50],
    [
      'payments declined, a deep page',
      () => `/api/payments?status=declined&limit=50&before=${deep(0.1)}`,
      50,
    ],
    ['payments of JetPay, a deep page', () => `/api/payments?source=jetpay&limit=50&before=${deep(0.1)}`, 50],
    ['payments of one day (any day)', () => `/api/payments?${day()}&limit=50`, 50],
    ['one payment by txn_id, with its refunds', () => `/api/payments/${txnOf(paymentIndex())}`, 50],
    ["one payment's request-log evidence", () => `/api/payments/${txnOf(paymentIndex())}/request-log`, 20],
    ['refunds, first page', () => '/api/refunds?limit=50', 50],
    ['refunds, a deep page', () => `/api/refunds?limit=50&before=${rand(size.refunds / 10) + 1}`, 50],
    ['refunds fatal, first page', () => '/api/refunds?status=fatal&limit=50', 50],
    ['refunds flagged', () => '/api/refunds?flagged=true&limit=50', 50],
    ['refunds of a txn_id', () => `/api/refunds?txnId=${refundTxns.length ? pick(refundTxns) : '1'}`, 50],
  ];
  return cases;
}

const CONSOLE_LOGIN = 'bench-console';
const CONSOLE_PASSWORD = 'bench-console-password-0123456789';

/** The console's user for the bench (an admin: the audit page wants one), made once per database. */
async function ensureConsoleUser(url: string): Promise<void> {
  const config = loadConfig({
    env: {},
    configDir: '/nonexistent',
    overrides: { ...gatewayEnv(url), NODE_ENV: 'test', PORT: 0, ADMIN_PORT: 0, LOG_LEVEL: 'error' },
  });
  const gateway = await buildGateway(config);
  try {
    if (await gateway.db.knex('console_users').where({ login: CONSOLE_LOGIN }).first()) return;
    await gateway.services.users.add(
      { login: CONSOLE_LOGIN, role: 'admin', password: CONSOLE_PASSWORD },
      { id: 'cli:bench-scale', ip: null },
    );
  } finally {
    await gateway.stop();
  }
}

/** Signs the bench's console user in through `post`; the session cookie to send with each page. */
async function consoleCookie(
  post: (path: string, body: string) => Promise<{ status: number; setCookie: string[] }>,
): Promise<string> {
  const body = new URLSearchParams({ login: CONSOLE_LOGIN, password: CONSOLE_PASSWORD, next: '/console' });
  const r = await post('/console/sign-in', body.toString());
  const cookie = r.setCookie
    .map((c) => c.split(';')[0] as string)
    .find((c) => c.startsWith('console_session='));
  if (r.status !== 303 || !cookie) throw new Error(`console sign-in failed: HTTP ${r.status}`);
  return cookie;
}

async function adminLists(
  kind: string,
  db: Db,
  full: Child,
  size: FillSize,
  which: Which = 'admin',
): Promise<void> {
  const cases = await adminCases(db, size, which);
  const base = `http://127.0.0.1:${full.adminPort}`;
  const headers: Record<string, string> =
    which === 'admin'
      ? { Authorization: `Bearer ${ADMIN_KEY}` }
      : {
          Cookie: await consoleCookie(async (p, body) => {
            const res = await fetch(`${base}${p}`, {
              method: 'POST',
              redirect: 'manual',
              headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
              body,
            });
            await res.arrayBuffer();
            return { status: res.status, setCookie: res.headers.getSetCookie() };
          }),
        };
  say();
  say(
    `${kind}: ${which === 'admin' ? 'admin API' : "the console's list pages (HTML, signed in)"} on the full database, ${SAMPLES} requests per row one at a time (a random account, cursor, day or txn_id each)`,
  );
  say(
    'Each request is followed by a GET /healthz on the same listener (one `select 1`): its p99 is what this ' +
      'machine adds to any admin request at that moment, whatever the data.',
  );
  say('| request | p50 ms | p99 ms | max ms | goal | | /healthz p99 ms, interleaved |');
  say('| --- | ---: | ---: | ---: | ---: | --- | ---: |');
  const get = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(`${base}${path}`, { headers, redirect: 'manual' });
    await res.arrayBuffer();
    return { ms: performance.now() - t0, ok: res.status === 200 };
  };
  for (const [name, url, goal] of cases) {
    const times: number[] = [];
    const health: number[] = [];
    let bad = 0;
    for (let i = 0; i < SAMPLES + 10; i++) {
      const r = await get(url());
      const h = await get('/healthz');
      if (!r.ok) bad++;
      if (i >= 10) {
        // the first ten warm the route up
        times.push(r.ms);
        health.push(h.ms);
      }
    }
    const p99 = pct(times, 99);
    say(
      `| ${name} | ${fmt(pct(times, 50))} | ${fmt(p99)} | ${fmt(Math.max(...times))} | < ${goal} | ` +
        `${p99 < goal ? 'ok' : 'OVER'}${bad ? `, ${bad} not 200` : ''} | ${fmt(pct(health, 99))} |`,
    );
  }
}

/** Pays at saturation until `until` settles (or for `seconds`). */
function payLoad(c: Child, nextTxn: () => string, seconds: number, until?: Promise<unknown>) {
  return new Promise<{ rps: number; p50: number; p99: number; errors: number; seconds: number }>(
    (resolve, reject) => {
      const next = pathMaker('pay', SIZE.accounts, nextTxn);
      const inst = autocannon(
        {
          url: `http://127.0.0.1:${c.port}`,
          connections: 16,
          duration: seconds,
          timeout: 15,
          requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: next() }) }],
        },
        (err, r) => {
          if (err) return reject(err);
          resolve({
            rps: r.requests.total / r.duration,
            p50: r.latency.p50,
            p99: r.latency.p99,
            errors: r.errors + r.non2xx,
            seconds: r.duration,
          });
        },
      );
      void until?.finally(() => inst.stop());
    },
  );
}

function runJob(c: Child, name: string): Promise<{ ran: boolean; ms: number; error?: string }> {
  return new Promise((resolve) => {
    const on = (m: { jobDone?: string; ran: boolean; ms: number; error?: string }) => {
      if (m?.jobDone !== name) return;
      c.child.off('message', on);
      resolve(m);
    };
    c.child.on('message', on);
    c.child.send({ runJob: name });
  });
}

/** The oldest month of request log purged by the gateway's retention job while pays run. */
async function purgeDuringPays(kind: string, url: string, db: Db, workDirFor: string): Promise<void> {
  const [oldest] = (await db.knex('request_log').min({ at: 'at' })) as { at: string }[];
  const oldestMs = new Date(`${String(oldest?.at).replace(' ', 'T').replace(/Z?$/, 'Z')}`).getTime();
  const retentionDays = Math.floor((Date.now() - oldestMs) / 86_400_000) - 30;
  if (!(retentionDays >= 30)) {
    say(`${kind}: purge skipped: the request log spans ${retentionDays + 30} days`);
    return;
  }
  const cutoff = new Date(Date.now() - retentionDays * 86_400_000)
    .toISOString()
    .replace('T', ' ')
    .replace('Z', '');
  const due = Number(
    Object.values(
      ((await db.knex('request_log').where('at', '<', cutoff).count({ c: '*' })) as object[])[0] ?? {},
    )[0] ?? 0,
  );
  const gw = await startChild(
    'gateway-purge',
    'bench/gateway-server.ts',
    gatewayEnv(url, retentionDays),
    workDirFor,
  );
  try {
    const nextTxn = txnIds('5');
    await payLoad(gw, nextTxn, 3); // warm-up
    const before = await payLoad(gw, nextTxn, PURGE_BASE_S);
    note(`pays without the purge: ${fmt(before.rps, 0)} req/s, p99 ${before.p99} ms`);
    const rows0 = await count(db, 'request_log');
    const job = runJob(gw, 'request-log-retention');
    const during = await payLoad(gw, nextTxn, 3600, job);
    const done = await job;
    const rows1 = await count(db, 'request_log');
    note(`pays during the purge: ${fmt(during.rps, 0)} req/s, p99 ${during.p99} ms`);
    const after = await payLoad(gw, nextTxn, PURGE_BASE_S);
    const without = (before.p99 + after.p99) / 2;
    const deleted = rows0 - rows1 + Math.round(during.rps * during.seconds); // the pays' own rows came in meanwhile
    say();
    say(
      `${kind}: retention job (REQUEST_LOG_RETENTION_DAYS=${retentionDays}: the oldest month, ${due.toLocaleString('en')} rows due) ` +
        `during pays at 16 connections; ${done.ran ? `the job ran ${fmt(done.ms / 1000)} s` : `the job did not run${done.error ? `: ${done.error}` : ''}`}, ` +
        `~${deleted.toLocaleString('en')} rows deleted, ~${Math.round(deleted / Math.max(0.001, done.ms / 1000)).toLocaleString('en')} rows/s`,
    );
    say('| pays | req/s | p50 ms | p99 ms | errors | p99 / without |');
    say('| --- | ---: | ---: | ---: | ---: | ---: |');
    say(
      `| before, no purge (${PURGE_BASE_S} s) | ${fmt(before.rps, 0)} | ${fmt(before.p50)} | ${fmt(before.p99)} | ${before.errors} | |`,
    );
    say(
      `| during the purge (${fmt(during.seconds, 0)} s) | ${fmt(during.rps, 0)} | ${fmt(during.p50)} | ${fmt(during.p99)} | ${during.errors} | ${fmt(during.p99 / without, 2)} (goal ≤ 1.5) |`,
    );
    say(
      `| after, no purge (${PURGE_BASE_S} s) | ${fmt(after.rps, 0)} | ${fmt(after.p50)} | ${fmt(after.p99)} | ${after.errors} | |`,
    );
  } finally {
    await gw.stop();
  }
}

/**
 * The database's own time for each admin request's statements (MariaDB's ANALYZE FORMAT=JSON runs a
 * statement and reports r_total_time_ms), without HTTP, Node or the load on this machine around it:
 * the admin app in this process, its SELECTs caught through knex's query event, each run again
 * under ANALYZE. Of SCALE_SERVER_SAMPLES requests per row.
 */
async function serverTimes(
  kind: string,
  url: string,
  db: Db,
  size: FillSize,
  which: Which = 'admin',
): Promise<void> {
  if (db.dialect !== 'mysql') return;
  const version = String(((await db.knex.raw('select version() v')) as [{ v: string }[]])[0][0]?.v);
  if (!/mariadb/i.test(version)) return;
  const config = loadConfig({
    env: {},
    configDir: '/nonexistent',
    overrides: { ...gatewayEnv(url), NODE_ENV: 'test', PORT: 0, ADMIN_PORT: 0, LOG_LEVEL: 'error' },
  });
  const gateway = await buildGateway(config);
  try {
    const cases = await adminCases(db, size, which);
    const auth =
      which === 'admin'
        ? `Bearer ${ADMIN_KEY}`
        : await consoleCookie(async (p, body) => {
            const res = await supertest(gateway.adminApp)
              .post(p)
              .type('form')
              .send(body)
              .redirects(0)
              .ok(() => true);
            const set = res.headers['set-cookie'] as unknown;
            return { status: res.status, setCookie: Array.isArray(set) ? (set as string[]) : [] };
          });
    say();
    say(
      `${kind}: the database's own time per ${which === 'admin' ? 'admin request' : 'console page'} (ANALYZE FORMAT=JSON of each of its SELECTs, ` +
        `summed), ${SERVER_SAMPLES} requests per row, fresh parameters each`,
    );
    say('| request | statements | p50 ms | max ms | rows read, max | indexes |');
    say('| --- | ---: | ---: | ---: | ---: | --- |');
    for (const [name, path] of cases) {
      const times: number[] = [];
      const rowsRead: number[] = [];
      const keys = new Set<string>();
      let statements = 0;
      let bad = 0;
      for (let i = 0; i < SERVER_SAMPLES; i++) {
        const selects = await captureSelects(gateway.db, async () => {
          const res = await supertest(gateway.adminApp)
            .get(path())
            .set(which === 'admin' ? 'Authorization' : 'Cookie', auth);
          if (res.status !== 200) bad++;
        });
        statements = selects.length;
        let ms = 0;
        let rows = 0;
        for (const q of selects) {
          const [out] = (await db.knex.raw(`analyze format=json ${q.sql}`, q.bindings as never[])) as [
            Record<string, string>[],
          ];
          const plan = JSON.parse(Object.values(out[0] ?? {})[0] ?? '{}') as Record<string, unknown>;
          const block = plan.query_block as { r_total_time_ms?: number } | undefined;
          ms += Number(block?.r_total_time_ms ?? 0);
          JSON.stringify(plan, (k, v: unknown) => {
            if (k === 'key' && typeof v === 'string') keys.add(v);
            if (k === 'r_rows' && typeof v === 'number') rows += v;
            return v;
          });
        }
        times.push(ms);
        rowsRead.push(rows);
      }
      say(
        `| ${name} | ${statements} | ${fmt(pct(times, 50), 2)} | ${fmt(Math.max(...times), 2)} | ` +
          `${Math.round(Math.max(...rowsRead))} | ${[...keys].join(', ')}${bad ? ` (${bad} not 200)` : ''} |`,
      );
    }
  } finally {
    await gateway.stop();
  }
}

async function runFor(kind: string, url: string, size: FillSize): Promise<void> {
  say();
  say(
    `## ${kind}: ${size.payments.toLocaleString('en')} payments, ${size.accounts.toLocaleString('en')} accounts, ` +
      `${(size.payments * size.logPerPayment).toLocaleString('en')} request-log rows, ${size.refunds.toLocaleString('en')} refunds over ${size.days} days`,
  );
  await prepare(url, size);
  if (env.SCALE_FILL_ONLY === '1') return; // kept for a later SCALE_REUSE=1 run
  const emptyUrl = emptyUrlOf(url);
  const empty = await startChild(
    `gateway-empty-${kind}`,
    'bench/gateway-server.ts',
    gatewayEnv(emptyUrl),
    workDir,
  );
  if (STEPS.has('console') || STEPS.has('console-server')) await ensureConsoleUser(url);
  const full = await startChild(`gateway-full-${kind}`, 'bench/gateway-server.ts', gatewayEnv(url), workDir);
  const db = createDb(url);
  try {
    if (STEPS.has('rounds')) await payAndCheck(kind, empty, full);
    await empty.stop();
    if (STEPS.has('admin')) await adminLists(kind, db, full, size);
    if (STEPS.has('console')) await adminLists(kind, db, full, size, 'console');
    await full.stop();
    if (STEPS.has('server')) await serverTimes(kind, url, db, size);
    if (STEPS.has('console-server')) await serverTimes(kind, url, db, size, 'console');
    if (STEPS.has('purge')) await purgeDuringPays(kind, url, db, workDir);
  } finally {
    await empty.stop();
    await full.stop();
    await db.close();
    if (env.SCALE_KEEP !== '1') {
      await dropDatabase(url);
      await dropDatabase(emptyUrl);
    }
  }
}

// The in-process gateways of the server steps: their access lines are not this report.
configureLogger({ level: 'error', format: 'pretty' });
const load1 = os.loadavg()[0] as number;
say(
  `# bench:scale — ${new Date().toISOString()}; ${os.cpus().length} CPUs, load average ${fmt(load1, 1)} at the start; node ${process.version}; logs in ${workDir}`,
);
if (!env.SCALE_ONLY || env.SCALE_ONLY === 'mysql') await runFor('mysql', MYSQL_URL, SIZE);
if (SQLITE_PAYMENTS > 0 && (!env.SCALE_ONLY || env.SCALE_ONLY === 'sqlite')) {
  const ratio = SQLITE_PAYMENTS / SIZE.payments;
  await runFor('sqlite', env.SCALE_SQLITE_URL ?? `sqlite:${path.join(workDir, 'scale.db')}`, {
    ...SIZE,
    payments: SQLITE_PAYMENTS,
    refunds: Math.round(SIZE.refunds * ratio),
  });
}
say();
say(
  `load average at the end ${fmt(os.loadavg()[0] as number, 1)} (the machine is shared: other work ran beside this)`,
);
fs.writeFileSync(path.join(workDir, 'scale-report.md'), `${out.join('\n')}\n`);
console.error(`report written to ${path.join(workDir, 'scale-report.md')}`);
