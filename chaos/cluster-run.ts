/**
 * npm run cluster — exactly once on a three-node MariaDB Galera cluster, proved on loopback.
 * Three private Galera nodes (own data directories under the temp dir, own ports; never the
 * machine's shared server), a gateway process on each node, then, with the bank invariant read
 * on every node after each:
 *   1. two gateways migrating the fresh cluster at once: both `cli migrate` exit 0, the schema once;
 *   2. a pay storm where every txn_id goes to two or three nodes at the same moment;
 *   3. refunds of one payment filed on two nodes at once, the poller and the Refund API token moving;
 *   4. one node killed (SIGKILL) mid-storm and started again (IST): its gateway comes back by itself;
 *   5. one node frozen (SIGSTOP) past the pay deadline: every gateway answers within the deadline;
 * then pay throughput and p99, 3 nodes against one plain server, in the same run.
 * `--no-retry` (or DB_COMMIT_ATTEMPTS=1) runs it with the COMMIT retry off. Exit 1 when a scenario fails.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { accountName, seedAccounts } from '../bench/bench-db.js';
import { ROOT, startChild, type Child } from '../bench/children.js';
import { createDb, type Db } from '../src/db/db.js';
import { configureLogger } from '../src/log/logger.js';
import { FakeRefundApi } from '../test/support/fake-refund-api.js';
import { migrations } from '../db/migrations/index.js';
import { checkBankInvariant } from './bank-invariant.js';
import { ensureGaleraPackages, GaleraCluster, type GaleraNode } from './galera-cluster.js';
import { KaspiLedger, pay, repeatUntilFinal } from './kaspi-traffic.js';
import { PrivateMariaDb } from './private-mariadb.js';

const env = process.env;
const NO_RETRY = process.argv.includes('--no-retry') || env.DB_COMMIT_ATTEMPTS === '1';
const COMMIT_ATTEMPTS = NO_RETRY ? '1' : (env.DB_COMMIT_ATTEMPTS ?? '4');
const DEADLINE_MS = Number(env.CLUSTER_DEADLINE_MS ?? 4000);
const BUDGET_MS = DEADLINE_MS + Number(env.CLUSTER_SLACK_MS ?? 1500);
const WORKERS = Number(env.CLUSTER_CONNECTIONS ?? 8);
const STORM_MS = Number(env.CLUSTER_STORM_MS ?? 6000);
const BENCH_MS = Number(env.CLUSTER_BENCH_MS ?? 8000);
const ACCOUNTS = 300;
const DATABASE = 'gw_cluster';
const ADMIN_KEY = 'cluster-admin-key-0123456789';
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cluster-run-'));
const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;

const refundApi = new FakeRefundApi();

function gatewayEnv(url: string): Record<string, string> {
  return {
    BENCH_WORKERS: '1',
    NODE_ENV: 'production',
    DATABASE_URL: url,
    DB_POOL_MAX: '10',
    DB_COMMIT_ATTEMPTS: COMMIT_ATTEMPTS,
    // Causal reads: a duplicate's replay on node B reads the row node A just committed.
    DB_WSREP_SYNC_WAIT: '1',
    ADMIN_API_KEY: ADMIN_KEY,
    KASPI_ALLOWED_IPS: '127.0.0.0/8',
    PAY_DEADLINE_MS: String(DEADLINE_MS),
    RETRY_CRON: '*/2 * * * * *',
    REFUND_API_URL: refundApi.url,
    REFUND_API_LOGIN: refundApi.login,
    REFUND_API_PASSWORD: refundApi.password,
    REFUND_POLL_CRON: '* * * * * *',
    REFUND_BACKOFF_MS: '1000',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    SEED_DEMO_ACCOUNTS: 'false',
  };
}

function get(port: number, p: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(3000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function postRefund(
  port: number,
  body: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/refunds',
        method: 'POST',
        agent: false,
        headers: {
          Authorization: `Bearer ${ADMIN_KEY}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { text: text.slice(0, 100) };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.setTimeout(15000, () => req.destroy());
    req.on('error', (e) => resolve({ status: 0, body: { error: e.message } }));
    req.end(data);
  });
}

/** `npm run cli -- migrate` as a separate process against one node; its exit code and output. */
function cliMigrate(url: string): Promise<{ code: number | null; out: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'migrate'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        NODE_ENV: 'production',
        DATABASE_URL: url,
        ADMIN_API_KEY: ADMIN_KEY,
        DB_COMMIT_ATTEMPTS: COMMIT_ATTEMPTS,
        DB_WSREP_SYNC_WAIT: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out, ms: Date.now() - started }));
  });
}

/** A pay storm where each new txn_id is sent to two or three gateways at the same moment. */
function duplicateStorm(ports: () => number[], ledger: KaspiLedger, prefix: string) {
  let stopping = false;
  let seq = 0;
  const worker = async () => {
    while (!stopping) {
      seq += 1;
      const id = `${prefix}${String(seq).padStart(18 - prefix.length, '0')}`;
      const account = accountName(seq % ACCOUNTS);
      const sum = `${(seq % 50) + 1}.00`;
      ledger.txns.set(id, { account, sum });
      const all = ports();
      const targets = Math.random() < 0.5 ? all : [...all].sort(() => Math.random() - 0.5).slice(0, 2);
      const calls = await Promise.all(targets.map((p) => pay(p, id, account, sum)));
      ledger.calls.push(...calls);
      if (calls.every((c) => c.result === null)) await sleep(50);
    }
  };
  const running = Promise.all(Array.from({ length: WORKERS }, worker));
  return {
    async stop() {
      stopping = true;
      await running;
    },
  };
}

interface Ctx {
  cluster: GaleraCluster;
  gateways: Child[];
  dbs: Db[];
}

/** The bank invariant read on every node, plus the nodes agreeing with each other. */
async function invariantOnEveryNode(
  ctx: Ctx,
  kaspi: KaspiLedger,
  open: string[],
): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  let ok = true;
  const digests: string[] = [];
  for (const [i, db] of ctx.dbs.entries()) {
    const r = await checkBankInvariant(db, kaspi, { budgetMs: BUDGET_MS, open });
    ok &&= r.ok;
    lines.push(...r.lines.map((l, k) => (k === 0 ? `node${i + 1}: ${l}` : `node${i + 1}: ${l}`)));
    const [rows] = (await db.knex.raw(
      `select (select count(*) from payments) as p, (select coalesce(sum(balance), 0) from accounts) as b,
              (select count(*) from account_ledger) as l, (select count(*) from refunds) as r`,
    )) as [Record<string, unknown>[]];
    digests.push(JSON.stringify(rows[0]));
  }
  if (new Set(digests).size !== 1) {
    ok = false;
    lines.push(`FAIL the nodes disagree: ${digests.join(' / ')}`);
  } else lines.push(`all ${ctx.dbs.length} nodes hold the same: ${digests[0]}`);
  return { ok, lines };
}

function answers(kaspi: KaspiLedger): Record<string, number> {
  const r: Record<string, number> = {};
  for (const c of kaspi.calls) r[String(c.result ?? 'none')] = (r[String(c.result ?? 'none')] ?? 0) + 1;
  return r;
}

async function waitHealthy(port: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if ((await get(port, '/healthz')) === 200) return Date.now() - started;
    await sleep(200);
  }
  return -1;
}

function istOrSst(node: GaleraNode, sinceBytes: number): string {
  const log = fs.readFileSync(path.join(node.dataDir, 'server.log'), 'utf8').slice(sinceBytes);
  if (/IST received|Receiving IST/.test(log)) return 'IST';
  if (/rsync SST completed|SST succeeded|State transfer .* complete/.test(log)) return 'SST';
  return 'unknown transfer';
}

type Scenario = (ctx: Ctx) => Promise<{ ok: boolean; lines: string[] }>;

const scenarios: [string, Scenario][] = [
  [
    'a pay storm, every txn_id sent to two or three nodes at the same moment',
    async (ctx) => {
      const kaspi = new KaspiLedger();
      const storm = duplicateStorm(() => ctx.gateways.map((g) => g.port), kaspi, `2${Date.now() % 1e6}`);
      await sleep(STORM_MS);
      await storm.stop();
      const open = await repeatUntilFinal(ctx.gateways[0]!.port, kaspi, { rounds: 20, pauseMs: 1000 });
      const r = await invariantOnEveryNode(ctx, kaspi, open);
      // A healthy cluster: a duplicate that lost to another node replays the winner's answer (0), never 4.
      const fours = kaspi.calls.filter((c) => c.result === 4).length;
      if (fours > 0) {
        r.ok = false;
        r.lines.push(`FAIL answers 4 in a healthy cluster (Kaspi must send again): ${fours}`);
      }
      r.lines.unshift(`answers ${JSON.stringify(answers(kaspi))}`);
      return r;
    },
  ],
  [
    'refunds of one payment filed on two nodes at once; the poller and the Refund API token moving',
    async (ctx) => {
      const kaspi = new KaspiLedger();
      const txns: string[] = [];
      for (let i = 0; i < 12; i++) {
        const id = `3${Date.now() % 1e6}${String(i).padStart(11, '0')}`;
        const account = accountName(i);
        kaspi.txns.set(id, { account, sum: '100.00' });
        const call = await pay(pick(ctx.gateways).port, id, account, '100.00');
        kaspi.calls.push(call);
        if (call.result === 0) txns.push(id);
        refundApi.script(id, [{ status: 0 }, { status: 4 }, { status: 2 }]);
      }
      const asked = refundApi.calls.RefundStatus;
      const issuedBefore = refundApi.issued.length;
      let bothAccepted = 0;
      let oneAccepted = 0;
      let errors = 0;
      const statuses: Record<number, number> = {};
      for (const [i, txn] of txns.entries()) {
        const a = ctx.gateways[i % 3]!;
        const b = ctx.gateways[(i + 1) % 3]!;
        if (i === 6) refundApi.expireActiveToken(); // Kaspi drops the token: one GetToken in the cluster
        const [ra, rb] = await Promise.all([
          postRefund(a.adminPort, { txnId: txn, amount: '60.00', reason: 'cluster' }),
          postRefund(b.adminPort, { txnId: txn, amount: '60.00', reason: 'cluster' }),
        ]);
        const accepted = [ra, rb].filter((r) => r.status === 202).length;
        if (accepted === 2) bothAccepted += 1;
        else if (accepted === 1) oneAccepted += 1;
        errors += [ra, rb].filter((r) => r.status !== 202 && r.status !== 422).length;
        for (const x of [ra, rb]) statuses[x.status] = (statuses[x.status] ?? 0) + 1;
      }
      // The pollers (one lease in the cluster) take them to success.
      const deadline = Date.now() + 30_000;
      let pending = -1;
      while (Date.now() < deadline) {
        const [rows] = (await ctx.dbs[0]!.knex.raw(
          `select count(*) as n from refunds where status not in ('success', 'declined', 'failed')`,
        )) as [{ n: number }[]];
        pending = Number(rows[0]?.n);
        if (pending === 0) break;
        await sleep(500);
      }
      const perRefund = new Map<string, number>();
      for (const rid of refundApi.statusAsked) perRefund.set(rid, (perRefund.get(rid) ?? 0) + 1);
      const r = await invariantOnEveryNode(ctx, kaspi, []);
      const over = (await ctx.dbs[2]!.knex.raw(
        `select p.txn_id from payments p join refunds f on f.payment_id = p.id
          where f.status not in ('declined', 'failed') group by p.id, p.txn_id, p.amount having sum(f.amount) > p.amount`,
      )) as [unknown[]];
      const fail = (what: string, n: number) => {
        if (n > 0) {
          r.ok = false;
          r.lines.push(`FAIL ${what}: ${n}`);
        }
      };
      fail(
        'payments refunded above their amount (both refunds accepted)',
        Math.max(bothAccepted, over[0].length),
      );
      fail(
        `refund requests answered neither 202 nor 422 (HTTP statuses ${JSON.stringify(statuses)})`,
        errors,
      );
      fail('refunds not final after 30 s', pending);
      fail(
        'refunds asked for their status more than twice (two pollers at once)',
        [...perRefund.values()].filter((n) => n > 2).length,
      );
      fail(
        'GetToken calls beyond the one after the token was dropped',
        Math.max(0, refundApi.issued.length - issuedBefore - 2),
      );
      r.lines.unshift(
        `${txns.length} payments, two refunds of 60.00 each filed at once on two nodes: one accepted ${oneAccepted}, both ${bothAccepted}; ` +
          `RefundStatus calls ${refundApi.calls.RefundStatus - asked}, tokens issued ${refundApi.issued.length - issuedBefore}`,
      );
      return r;
    },
  ],
  [
    'one node killed (SIGKILL) mid-storm and started again',
    async (ctx) => {
      const kaspi = new KaspiLedger();
      const victim = ctx.cluster.nodes[1]!;
      const storm = duplicateStorm(() => ctx.gateways.map((g) => g.port), kaspi, `4${Date.now() % 1e6}`);
      await sleep(2000);
      await victim.kill9();
      const killedAt = Date.now();
      await sleep(1500);
      const health = await get(ctx.gateways[1]!.adminPort, '/healthz');
      await sleep(1500);
      const logSize = fs.statSync(path.join(victim.dataDir, 'server.log')).size;
      await victim.start();
      const rejoinMs = Date.now() - killedAt;
      const back = await waitHealthy(ctx.gateways[1]!.adminPort, 30_000);
      await sleep(1500);
      await storm.stop();
      const open = await repeatUntilFinal(ctx.gateways[0]!.port, kaspi, { rounds: 20, pauseMs: 1000 });
      const r = await invariantOnEveryNode(ctx, kaspi, open);
      if (back < 0) {
        r.ok = false;
        r.lines.push('FAIL the gateway of the killed node did not come back by itself within 30 s');
      }
      r.lines.unshift(
        `answers ${JSON.stringify(answers(kaspi))}; node2 down→synced ${rejoinMs} ms by ${istOrSst(victim, logSize)}; ` +
          `its gateway's /healthz while down ${health}, 200 again ${back} ms after the node`,
      );
      return r;
    },
  ],
  [
    `one node frozen (SIGSTOP) for ${DEADLINE_MS + 3000} ms, past the pay deadline`,
    async (ctx) => {
      const kaspi = new KaspiLedger();
      const frozen = ctx.cluster.nodes[2]!;
      const storm = duplicateStorm(() => ctx.gateways.map((g) => g.port), kaspi, `5${Date.now() % 1e6}`);
      await sleep(1500);
      frozen.freeze();
      await sleep(DEADLINE_MS + 3000);
      frozen.thaw();
      const t = Date.now();
      await frozen.waitSynced(60_000);
      const synced = Date.now() - t;
      const back = await waitHealthy(ctx.gateways[2]!.adminPort, 30_000);
      await sleep(1000);
      await storm.stop();
      const open = await repeatUntilFinal(ctx.gateways[0]!.port, kaspi, { rounds: 20, pauseMs: 1000 });
      const r = await invariantOnEveryNode(ctx, kaspi, open);
      r.lines.unshift(
        `answers ${JSON.stringify(answers(kaspi))}; node3 synced ${synced} ms after the thaw, its gateway healthy ${back} ms later`,
      );
      return r;
    },
  ],
];

/** Distinct pays from `connections` workers for `ms`, spread over the ports: pays/s and p99. */
async function measure(
  ports: number[],
  ms: number,
  prefix: string,
): Promise<{ rate: number; p50: number; p99: number; other: number }> {
  const lat: number[] = [];
  let other = 0;
  let seq = 0;
  const end = Date.now() + ms;
  const worker = async (w: number) => {
    while (Date.now() < end) {
      seq += 1;
      const id = `${prefix}${String(seq).padStart(18 - prefix.length, '0')}`;
      const c = await pay(ports[(w + seq) % ports.length]!, id, accountName(seq % ACCOUNTS), '1.00');
      if (c.result === 0) lat.push(c.ms);
      else other += 1;
    }
  };
  await Promise.all(Array.from({ length: 24 }, (_, w) => worker(w)));
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { rate: Math.round((lat.length * 1000) / ms), p50: q(0.5), p99: q(0.99), other };
}

async function main() {
  configureLogger({ level: 'error', format: 'json' });
  const t0 = Date.now();
  say(
    `# Galera cluster run — ${new Date().toISOString()}; COMMIT retry ${NO_RETRY ? 'OFF (DB_COMMIT_ATTEMPTS=1)' : `on (DB_COMMIT_ATTEMPTS=${COMMIT_ATTEMPTS})`}; pay deadline ${DEADLINE_MS} ms, answers held to ${BUDGET_MS} ms; logs in ${workDir}`,
  );
  say(ensureGaleraPackages());
  await refundApi.start();
  const gateways: Child[] = [];
  const tb = Date.now();
  const cluster = await GaleraCluster.create(3);
  // Ctrl-C: the nodes and gateways this run started are stopped, not left behind.
  const onSignal = () => {
    for (const g of gateways) void g.kill9();
    void cluster.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const buildMs = Date.now() - tb;
  say(
    `cluster of ${await cluster.size()} built in ${buildMs} ms: SQL ports ${cluster.nodes.map((n) => n.port).join(', ')}; data in ${cluster.root}`,
  );
  let failed = 0;
  const dbs: Db[] = [];
  const report = (name: string, r: { ok: boolean; lines: string[] }) => {
    for (const l of r.lines) say(`  ${l}`);
    say(`  -> ${r.ok ? 'PASS' : 'FAIL'}`);
    if (!r.ok) failed += 1;
    void name;
  };
  try {
    // 1. Two hosts migrating a fresh cluster at once.
    say('');
    say('## 1. two gateways migrating the fresh cluster at once');
    {
      const admin = createDb(cluster.nodes[0]!.url(''));
      await admin.knex.raw(
        `create database \`${DATABASE}\` character set utf8mb4 collate utf8mb4_unicode_ci`,
      );
      await admin.close();
      const [a, b] = await Promise.all([
        cliMigrate(cluster.nodes[0]!.url(DATABASE)),
        cliMigrate(cluster.nodes[1]!.url(DATABASE)),
      ]);
      const check = createDb(cluster.nodes[2]!.url(DATABASE), { wsrepSyncWait: 1 });
      const [m] = (await check.knex
        .raw('select count(*) as n from knex_migrations')
        .catch(() => [[{ n: 0 }]])) as [{ n: number }[]];
      const [p] = (await check.knex.raw(
        `select count(*) as n from information_schema.routines where routine_schema = ? and routine_type = 'PROCEDURE'`,
        [DATABASE],
      )) as [{ n: number }[]];
      await check.close();
      const lines = [
        `cli migrate on node1 exit ${a.code} in ${a.ms} ms, on node2 exit ${b.code} in ${b.ms} ms`,
        `node3 holds ${m[0]?.n} migrations of ${Object.keys(migrations).length}, ${p[0]?.n} stored procedure(s)`,
      ];
      const ok =
        a.code === 0 &&
        b.code === 0 &&
        Number(m[0]?.n) === Object.keys(migrations).length &&
        Number(p[0]?.n) >= 1;
      if (!ok)
        lines.push(
          `FAIL migrations: ${[a, b]
            .filter((x) => x.code !== 0)
            .map((x) => x.out.split('\n').slice(-3).join(' '))
            .join(' | ')}`,
        );
      report('migrate', { ok, lines });
    }

    if (process.env.CLUSTER_ONLY_MIGRATE) return;
    const seed = createDb(cluster.nodes[0]!.url(DATABASE));
    await seedAccounts(seed, ACCOUNTS);
    await seed.close();
    for (const [i, n] of cluster.nodes.entries()) {
      gateways.push(
        await startChild(
          `gateway-node${i + 1}`,
          'bench/gateway-server.ts',
          gatewayEnv(n.url(DATABASE)),
          workDir,
        ),
      );
      dbs.push(createDb(n.url(DATABASE), { wsrepSyncWait: 1, poolMax: 2 }));
    }
    const ctx: Ctx = { cluster, gateways, dbs };
    for (const [i, [name, run]] of scenarios.entries()) {
      say('');
      say(`## ${i + 2}. ${name}`);
      report(name, await run(ctx));
    }

    if (!process.env.CLUSTER_SKIP_BENCH) {
      say('');
      say(`## pay throughput, ${BENCH_MS} ms of distinct pays from 24 connections`);
      const three = await measure(
        gateways.map((g) => g.port),
        BENCH_MS,
        `6${Date.now() % 1e6}`,
      );
      for (const g of gateways) await g.stop();
      gateways.length = 0;
      const single = await PrivateMariaDb.create();
      try {
        const url = single.url;
        const admin = createDb(url.replace(/\/gw_chaos$/, '/'));
        await admin.knex.raw('create database if not exists gw_chaos');
        await admin.close();
        const sdb = createDb(url);
        const { migrateLatest } = await import('../src/db/migrate.js');
        await migrateLatest(sdb);
        await seedAccounts(sdb, ACCOUNTS);
        await sdb.close();
        // The same three gateways on one plain server, then one gateway alone: the database's share
        // and the gateways' share of the difference.
        const singles: Child[] = [];
        for (let i = 1; i <= 3; i++)
          singles.push(
            await startChild(`gateway-single-${i}`, 'bench/gateway-server.ts', gatewayEnv(url), workDir),
          );
        gateways.push(...singles);
        const oneServer = await measure(
          singles.map((g) => g.port),
          BENCH_MS,
          `7${Date.now() % 1e6}`,
        );
        const oneGateway = await measure([singles[0]!.port], BENCH_MS, `8${Date.now() % 1e6}`);
        const line = (what: string, m: { rate: number; p50: number; p99: number; other: number }) =>
          say(`  ${what}: ${m.rate} pays/s, p50 ${m.p50} ms, p99 ${m.p99} ms (not 0: ${m.other})`);
        line('3 Galera nodes, a gateway on each     ', three);
        line('1 plain MariaDB server, 3 gateways    ', oneServer);
        line('1 plain MariaDB server, 1 gateway     ', oneGateway);
        say(`  (one machine of ${os.cpus().length} cores runs every node, gateway and the load)`);
      } finally {
        await single.destroy();
      }
    }
  } finally {
    for (const g of gateways) await g.stop().catch(() => undefined);
    for (const d of dbs) await d.close().catch(() => undefined);
    await cluster.destroy();
    await refundApi.stop();
  }
  say('');
  say(`cluster build ${buildMs} ms, whole run ${Date.now() - t0} ms`);
  say(
    failed === 0
      ? 'cluster: every scenario kept the bank invariant'
      : `cluster: ${failed} scenario(s) FAILED`,
  );
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`cluster run failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
