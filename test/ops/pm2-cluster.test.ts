import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDb, type Db } from '../../src/db/db.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createStores } from '../../src/wiring/wiring.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { newTxnId, parseKaspi, TXN_DATE } from '../support/kaspi.js';

/**
 * The production shape: the compiled build under pm2 in cluster mode, 2 workers sharing the ports,
 * on MySQL. Slow (a build and real processes), so one file, bounded loops. MySQL only: SQLite is one
 * file on one host, not what a cluster runs on.
 */

const ROOT = path.resolve(import.meta.dirname ?? '.', '../..');
const PM2 = path.join(ROOT, 'node_modules/.bin/pm2');
const APP = 'gw-pm2-test';
const run = promisify(execFile);

const mysql = process.env.TEST_DATABASE_URL;
if (!mysql) {
  process.stderr.write(
    'test/ops/pm2-cluster.test.ts skipped: it runs on MySQL only; set TEST_DATABASE_URL=mysql://... (CI does)\n',
  );
}
const describeOnMysql = mysql ? describe : describe.skip;

interface Answer {
  status: number;
  result?: string;
  prvTxn?: string;
  error?: string;
  startedAt: number;
  ms: number;
}

/** One Kaspi pay over HTTP, with the given agent (keep-alive) or a fresh connection. */
function payOnce(port: number, txn: string, account: string, agent: http.Agent | false): Promise<Answer> {
  const startedAt = performance.now();
  const pathQ = `/payment_app.cgi?command=pay&txn_id=${txn}&account=${account}&sum=1.00&txn_date=${TXN_DATE}`;
  return new Promise((resolve) => {
    const done = (a: Omit<Answer, 'startedAt' | 'ms'>) =>
      resolve({ ...a, startedAt, ms: performance.now() - startedAt });
    const req = http.get({ host: '127.0.0.1', port, path: pathQ, agent, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return done({ status: res.statusCode ?? 0, error: body.slice(0, 200) });
        const xml = parseKaspi(body);
        done({ status: 200, result: xml.result, prvTxn: xml.prv_txn });
      });
      res.on('error', (e) => done({ status: 0, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (e) =>
      done({ status: 0, error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }),
    );
  });
}

async function isFree(port: number): Promise<boolean> {
  const s = net.createServer();
  const ok = await new Promise<boolean>((r) => {
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => r(true));
  });
  if (ok) await new Promise((r) => s.close(r));
  return ok;
}

/**
 * `count` consecutive free ports below Linux's ephemeral range (32768+). The cluster master gives a
 * port up when its last worker leaves (SIGTERM to both) and binds it again on restart; a port from
 * the ephemeral range could meanwhile be handed to any process's bind(0) or outgoing connection.
 */
async function freePorts(count: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    let all = true;
    for (let k = 0; k < count && all; k++) all = await isFree(base + k);
    if (all) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeOnMysql('[mysql] pm2 cluster of 2 workers', () => {
  let database: TestDatabase;
  let db: Db;
  let pm2Home: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let adminPort: number;
  let metricsPort: number;

  const pm2 = (...args: string[]) =>
    run(process.execPath, [PM2, ...args], { cwd: ROOT, env, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });

  interface Worker {
    pmId: number;
    pid: number;
    status: string;
    instance: number;
  }
  async function workers(): Promise<Worker[]> {
    const { stdout } = await pm2('jlist');
    const list = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
      pm_id: number;
      pid: number;
      name: string;
      pm2_env: { status: string; NODE_APP_INSTANCE?: number };
    }[];
    return list
      .filter((p) => p.name === APP)
      .map((p) => ({
        pmId: p.pm_id,
        pid: p.pid,
        status: p.pm2_env.status,
        instance: Number(p.pm2_env.NODE_APP_INSTANCE ?? 0),
      }));
  }

  async function waitOnline(n: number, timeoutMs = 60_000): Promise<Worker[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const ws = await workers();
      const online = ws.filter((w) => w.status === 'online' && w.pid > 0);
      if (online.length === n) {
        const healthy = await Promise.all(
          online.map((w) =>
            fetch(`http://127.0.0.1:${metricsPort + w.instance}/metrics`).then(
              (r) => r.ok,
              () => false,
            ),
          ),
        );
        if (healthy.every(Boolean)) return online;
      }
      if (Date.now() > until) throw new Error(`workers not online: ${JSON.stringify(ws)}`);
      await sleep(250);
    }
  }

  /** gateway_requests_total of kaspi_pay answered 0, per worker (each has its own metrics port). */
  async function paysCountedPerWorker(): Promise<number[]> {
    return Promise.all(
      [0, 1].map(async (i) => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort + i}/metrics`)).text();
        const line = text
          .split('\n')
          .find((l) => l.startsWith('gateway_requests_total{endpoint="kaspi_pay",status="200",result="0"}'));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
      }),
    );
  }

  function logLines(): Record<string, unknown>[] {
    const dir = path.join(pm2Home, 'logs');
    return fs
      .readdirSync(dir)
      .filter((f) => f.startsWith(APP) && f.endsWith('-out.log'))
      .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async function creditedCount(txns: string[]): Promise<{ payments: number; credits: number }> {
    const payments = await db
      .knex('payments')
      .whereIn('txn_id', txns)
      .where('state', 'credited')
      .count({ n: '*' });
    const credits = await db
      .knex('account_ledger')
      .join('payments', 'payments.id', 'account_ledger.payment_id')
      .whereIn('payments.txn_id', txns)
      .where('account_ledger.kind', 'credit')
      .count({ n: '*' });
    return {
      payments: Number((payments[0] as { n: number | string }).n),
      credits: Number((credits[0] as { n: number | string }).n),
    };
  }

  /** Statements of this database blocked on the accounts row (the processlist works on MySQL and MariaDB). */
  async function lockWaits(): Promise<number> {
    const [rows] = (await db.knex.raw(
      // Statements of this database blocked on the account's row: a pay's procedure waiting at its
      // SELECT ... FOR UPDATE, or the general path's UPDATE.
      'select count(*) as n from information_schema.processlist where db = database() and ' +
        "command = 'Query' and id <> connection_id() and " +
        "(info like 'SELECT 1 INTO v_found FROM `accounts`%FOR UPDATE' or info like 'update `accounts`%')",
    )) as [{ n: number | string }[]];
    return Number(rows[0]?.n ?? 0);
  }

  beforeAll(async () => {
    database = await createTestDatabase('mysql');
    db = createDb(database.url);
    await migrateLatest(db);
    const stores = createStores(db);
    for (let i = 0; i < 10; i++)
      await stores.accounts.addAccount({ account: `PM-${i}`, name: 'Payer', balance: 0 });
    await stores.accounts.addAccount({ account: 'PM-LOCK', name: 'Payer', balance: 0 });

    // What pm2 runs in production: the compiled build.
    await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        timeout: 120_000,
      },
    );

    pm2Home = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-pm2-'));
    // public, admin, metrics of worker 0, metrics of worker 1
    const base = await freePorts(4);
    port = base;
    adminPort = base + 1;
    metricsPort = base + 2;
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TZ: process.env.TZ,
      PM2_HOME: pm2Home,
      // pm2 asks version.pm2.io on its first run in a PM2_HOME, and daily: not from a test (no network).
      PM2_DISCRETE_MODE: 'true',
      PM2_DISABLE_VERSION_CHECK: 'true',
      PM2_APP_NAME: APP,
      PM2_INSTANCES: '2',
      NODE_ENV: 'production',
      DATABASE_URL: database.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      METRICS_PORT: String(metricsPort),
      ADMIN_API_KEY: 'pm2-test-admin-key-0123456789',
      KASPI_ALLOWED_IPS: '127.0.0.0/8',
      DB_POOL_MAX: '10',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    await pm2('start', 'ecosystem.config.js', '--env', 'production');
    await waitOnline(2);
  }, 240_000);

  afterAll(async () => {
    if (pm2Home) {
      await pm2('kill').catch(() => undefined);
      if (!process.env.KEEP_PM2_HOME) fs.rmSync(pm2Home, { recursive: true, force: true });
    }
    await db?.close();
    await database?.drop();
  }, 60_000);

  it('when identical pays are spread over both workers, then one payment, one credit, one prv_txn', async () => {
    const before = await paysCountedPerWorker();
    const txn = newTxnId();
    const answers = await Promise.all(Array.from({ length: 40 }, () => payOnce(port, txn, 'PM-0', false)));
    expect(answers.map((a) => a.error ?? a.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((a) => a.result))).toEqual(new Set(['0']));
    expect(new Set(answers.map((a) => a.prvTxn)).size).toBe(1);
    const after = await paysCountedPerWorker();
    const served = after.map((n, i) => n - (before[i] as number));
    // the cluster spread the connections: both workers answered some of them
    expect(served.every((n) => n > 0)).toBe(true);
    expect(served[0]! + served[1]!).toBe(40);
    expect(await creditedCount([txn])).toEqual({ payments: 1, credits: 1 });
    const [acc] = await db.knex('accounts').where({ account: 'PM-0' }).select('balance');
    expect(String((acc as { balance: string | number }).balance)).toBe('100');
  });

  it('when pm2 reloads the cluster during a stream of pays, then no request fails and no payment is lost', async () => {
    const oldPids = (await workers()).map((w) => w.pid).sort();
    // Kaspi's side keeps connections open, as nginx's upstream keepalive does.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const answers: (Answer & { txn: string })[] = [];
    let stop = false;
    const deadline = Date.now() + 60_000;
    const loop = async (n: number) => {
      for (let i = 0; !stop && Date.now() < deadline && i < 5000; i++) {
        const txn = newTxnId();
        answers.push({ txn, ...(await payOnce(port, txn, `PM-${n}`, agent)) });
      }
    };
    const loops = Array.from({ length: 8 }, (_, n) => loop(n));
    await sleep(1000);
    const reloadStart = performance.now();
    await pm2('reload', APP);
    const reloadEnd = performance.now();
    await waitOnline(2);
    await sleep(1000);
    stop = true;
    await Promise.all(loops);
    agent.destroy();

    const newPids = (await workers()).map((w) => w.pid).sort();
    expect(newPids.some((p) => oldPids.includes(p))).toBe(false);

    const failed = answers.filter((a) => a.status !== 200 || a.result !== '0');
    const during = answers.filter((a) => a.startedAt >= reloadStart && a.startedAt <= reloadEnd);
    const ms = during.map((a) => a.ms).sort((x, y) => x - y);
    const txns = answers.map((a) => a.txn);
    const recorded = await creditedCount(txns);
    const figures = {
      requests: answers.length,
      duringReload: during.length,
      reloadSeconds: Math.round(reloadEnd - reloadStart) / 1000,
      failures: failed.length,
      p50ms: Math.round(percentile(ms, 50) * 10) / 10,
      p99ms: Math.round(percentile(ms, 99) * 10) / 10,
      maxMs: Math.round((ms[ms.length - 1] ?? 0) * 10) / 10,
      answeredZero: answers.filter((a) => a.result === '0').length,
      paymentsCredited: recorded.payments,
      ledgerCredits: recorded.credits,
    };
    process.stderr.write(`pm2 reload under load: ${JSON.stringify(figures)}\n`);

    expect(failed.slice(0, 5)).toEqual([]);
    expect(during.length).toBeGreaterThan(50);
    expect(recorded).toEqual({ payments: answers.length, credits: answers.length });
    const [others] = await db
      .knex('payments')
      .whereIn('txn_id', txns)
      .whereNot('state', 'credited')
      .count({ n: '*' });
    expect(Number((others as { n: number | string }).n)).toBe(0);
    expect(logLines().filter((l) => l.level === 'error')).toEqual([]);
  }, 120_000);

  it('when the workers get SIGTERM with pays in flight, then they wait for them, every pay is answered, and they exit cleanly', async () => {
    const ws = await waitOnline(2);
    // Hold the account's row: the pays reach the database and wait there, in flight.
    const trx = await db.knex.transaction();
    await trx('accounts').where({ account: 'PM-LOCK' }).forUpdate().select('id');
    const txns = Array.from({ length: 12 }, () => newTxnId());
    const settled: Answer[] = [];
    const pending = txns.map((txn) =>
      payOnce(port, txn, 'PM-LOCK', false).then((a) => {
        settled.push(a);
        return a;
      }),
    );
    // in flight = inside their transactions, each blocked on the row we hold
    for (let waited = 0; (await lockWaits()) < txns.length; waited += 50) {
      if (waited > 8_000) {
        await trx.rollback();
        throw new Error(
          `only ${await lockWaits()} pays reached the database; answered: ${JSON.stringify(settled)}`,
        );
      }
      await sleep(50);
    }

    for (const w of ws) process.kill(w.pid, 'SIGTERM');
    await sleep(700);
    // still draining: the requests in flight hold them
    const alive = ws.filter((w) => {
      try {
        process.kill(w.pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toHaveLength(2);
    await trx.commit();

    const answers = await Promise.all(pending);
    expect(answers.map((a) => a.error ?? `${a.status}:${a.result}`)).toEqual(txns.map(() => '200:0'));
    expect(await creditedCount(txns)).toEqual({ payments: 12, credits: 12 });

    const exited = new Set<number>();
    const until = Date.now() + 20_000;
    while (exited.size < 2 && Date.now() < until) {
      for (const w of ws) {
        try {
          process.kill(w.pid, 0);
        } catch {
          exited.add(w.pid);
        }
      }
      await sleep(100);
    }
    expect(exited.size).toBe(2);
    const stopped = logLines().filter((l) => l.message === 'stopped' && ws.some((w) => w.pid === l.pid));
    expect(stopped).toHaveLength(2);
    expect(logLines().filter((l) => l.level === 'error')).toEqual([]);
    // pm2 brings the cluster back by itself
    await waitOnline(2);
  }, 90_000);
});
