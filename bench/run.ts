/**
 * npm run bench — the gateway against a bare Express answer, side by side in one run.
 *
 * Starts three processes on this machine: a bare Express server answering a fixed XML string, the
 * gateway on MySQL (BENCH_DATABASE_URL) and the gateway on SQLite (a temp file), each in a process
 * of its own as production would run it. Then interleaved rounds of autocannon (bare, pay, check
 * per database), a wide run at 200 connections, a storm of identical pays, and the ledger check.
 * BENCH_BASELINE_DIR=<another checkout> adds that checkout's gateway on databases of its own,
 * migrated by its own code, each of its runs beside the same run of this one (docs/performance.md).
 * The last line is machine-readable: `pay_ratio=<median pay/bare on MySQL> p99_ms=<pay p99 on MySQL>`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb } from '../src/db/db.js';
import { configureLogger } from '../src/log/logger.js';
import { checkLedger, resetDatabase, seedAccounts, type LedgerReport } from './bench-db.js';
import { startChild, type Child } from './children.js';
import { load, pathMaker, TXN_DATE, txnIds, type Endpoint, type LoadResult } from './load.js';
import { countQueries } from './query-count.js';
import { cpuMs, pidListeningOn, treeCpuMs } from './proc-cpu.js';

const env = process.env;
const num = (name: string, dflt: number) => {
  const v = Number(env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const settings = {
  mysqlUrl: env.BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/gw_bench',
  roundS: num('BENCH_ROUND_S', 15),
  rounds: num('BENCH_ROUNDS', 3),
  connections: num('BENCH_CONNECTIONS', 16),
  wideConnections: num('BENCH_WIDE_CONNECTIONS', 200),
  wideS: num('BENCH_WIDE_S', Math.min(num('BENCH_ROUND_S', 15), 10)),
  storm: num('BENCH_STORM', 2000),
  accounts: num('BENCH_ACCOUNTS', 2000),
  poolMax: num('BENCH_DB_POOL_MAX', 10),
  sqlite: env.BENCH_SQLITE !== '0',
  baselineDir: env.BENCH_BASELINE_DIR ? path.resolve(env.BENCH_BASELINE_DIR) : null,
  cpuProf: env.BENCH_CPU_PROF === '1',
  /** Processes per server, bare Express and the gateway alike (pm2's cluster mode, one per core). */
  workers: num('BENCH_WORKERS', 1),
};
// The children read it from their environment (bench/cluster.ts).
process.env.BENCH_WORKERS = String(settings.workers);

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-'));
const sqliteUrl = `sqlite:${path.join(workDir, 'bench.sqlite')}`;
const say = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Target {
  db: 'mysql' | 'sqlite';
  /** how the tables name it: the database, or the database and "baseline" */
  name: string;
  url: string;
  /** another checkout of the gateway to compare with (BENCH_BASELINE_DIR), in the rounds only */
  baselineDir?: string;
  child?: Child;
}

function gatewayEnv(url: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: url,
    DB_POOL_MAX: String(settings.poolMax),
    ADMIN_API_KEY: 'bench-admin-key-0123456789',
    KASPI_ALLOWED_IPS: '127.0.0.0/8',
    LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'info',
    LOG_FORMAT: 'json',
    SEED_DEMO_ACCOUNTS: 'false',
  };
}

async function stormOf(t: Target, n: number) {
  const txn = txnIds('8')();
  const results = new Map<string, number>();
  const prvTxns = new Set<string>();
  const r = await load({
    label: `${t.db} storm`,
    port: t.child!.port,
    path: () =>
      `/payment_app.cgi?command=pay&txn_id=${txn}&account=BENCH-00001&sum=77.00&txn_date=${TXN_DATE}`,
    connections: Math.min(settings.wideConnections, n),
    amount: n,
    onBody: (body) => {
      const result = /<result>(\d)<\/result>/.exec(body)?.[1] ?? 'none';
      results.set(result, (results.get(result) ?? 0) + 1);
      const prv = /<prv_txn>(\d+)<\/prv_txn>/.exec(body)?.[1];
      if (prv) prvTxns.add(prv);
    },
  });
  const db = createDb(t.url);
  try {
    const payments = await db.knex('payments').where({ txn_id: txn }).select('id');
    const credits = await db
      .knex('account_ledger')
      .whereIn(
        'payment_id',
        payments.map((p: { id: string | number }) => p.id),
      )
      .where({ kind: 'credit' })
      .select('id');
    return { r, txn, results, prvTxns, payments: payments.length, credits: credits.length };
  } finally {
    await db.close();
  }
}

async function seed(url: string): Promise<void> {
  const db = createDb(url);
  try {
    await seedAccounts(db, settings.accounts);
  } finally {
    await db.close();
  }
}

/**
 * The other checkout (BENCH_BASELINE_DIR) on each database, in databases of its own: `<name>_base` on
 * MySQL, another file on SQLite. It runs its own bench/gateway-server.ts (its src/ is wired its own
 * way) with its own node_modules, from its own directory.
 */
function baselineTargets(dir: string, measured: Target[]): Target[] {
  const server = path.join(dir, 'bench', 'gateway-server.ts');
  if (!fs.existsSync(server))
    throw new Error(`BENCH_BASELINE_DIR: ${server} is missing (the baseline runs its own gateway-server.ts)`);
  if (!fs.existsSync(path.join(dir, 'node_modules')))
    throw new Error(`BENCH_BASELINE_DIR: ${dir}/node_modules is missing (npm ci there)`);
  say(`baseline: ${dir} (${baselineCommit(dir)}) on databases of its own, migrated by its own code`);
  return measured.map((t) => ({
    db: t.db,
    name: `${t.db}-base`,
    url:
      t.db === 'mysql'
        ? (() => {
            const u = new URL(t.url);
            u.pathname = `${u.pathname}_base`;
            return u.href;
          })()
        : `sqlite:${path.join(workDir, 'bench-base.sqlite')}`,
    baselineDir: dir,
  }));
}

function baselineCommit(dir: string): string {
  try {
    const head = fs.readFileSync(path.join(dir, '.git'), 'utf8').trim();
    // A worktree's .git is a file naming its git dir, whose HEAD is the detached commit.
    const gitDir = head.startsWith('gitdir: ') ? head.slice(8) : path.join(dir, '.git');
    return fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim().slice(0, 12);
  } catch {
    return 'commit unknown';
  }
}

const fmt = (x: number, d = 0) => x.toFixed(d);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

async function main() {
  configureLogger({ level: 'error', format: 'json' });
  say(`# Kaspi gateway benchmark — ${new Date().toISOString()}`);
  say(
    `node ${process.version}, ${os.cpus().length} cpu (${os.cpus()[0]?.model ?? '?'}), load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  say(
    `rounds ${settings.rounds} × ${settings.roundS} s, ${settings.connections} connections, ${settings.accounts} accounts, ` +
      `pool ${settings.poolMax}, ${settings.workers} process(es) per server, log level ${env.BENCH_LOG_LEVEL ?? 'info'}; logs in ${workDir}`,
  );

  const targets: Target[] = [{ db: 'mysql', name: 'mysql', url: settings.mysqlUrl }];
  if (settings.sqlite) targets.push({ db: 'sqlite', name: 'sqlite', url: sqliteUrl });
  const measured = [...targets];
  if (settings.baselineDir) targets.push(...baselineTargets(settings.baselineDir, measured));
  for (const t of measured) {
    await resetDatabase(t.url);
    await seed(t.url);
  }
  // A baseline's database stays empty here: its gateway migrates it with its own migrations at start
  // (ours would leave rows in knex_migrations its checkout doesn't have: "migration directory is corrupt").
  for (const t of targets.filter((x) => x.baselineDir)) await resetDatabase(t.url, { migrate: false });
  for (const t of measured) {
    const q = await countQueries(t.url, settings.accounts);
    say(`statements per call on ${t.db} (request log included): pay ${q.pay}, check ${q.check}`);
  }

  const children: Child[] = [];
  try {
    const bare = await startChild('bare', 'bench/bare-server.ts', {}, workDir);
    children.push(bare);
    for (const t of targets) {
      t.child = await startChild(`gateway-${t.name}`, 'bench/gateway-server.ts', gatewayEnv(t.url), workDir, {
        nodeArgs: settings.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${workDir}`] : [],
        cwd: t.baselineDir,
      });
      children.push(t.child);
      if (t.baselineDir) await seed(t.url);
    }

    const nextTxn = txnIds('9');
    type Run = {
      round: number;
      what: string;
      db: string;
      endpoint: Endpoint;
      res: LoadResult;
      /** CPU per answer, µs: the server process, and the database server's (MySQL: shared, an upper bound) */
      cpuUs: number | null;
      dbCpuUs: number | null;
    };
    const mysqlPid = pidListeningOn(
      Number(new URL(settings.mysqlUrl.replace(/^mariadb:/, 'mysql:')).port || 3306),
    );
    const runs: Run[] = [];
    const plan: {
      what: string;
      db: string;
      endpoint: Endpoint;
      port: number;
      pid?: number;
      dbPid?: number | null;
    }[] = [
      { what: 'bare express', db: '-', endpoint: 'bare', port: bare.port, pid: bare.child.pid },
      // This checkout and its baseline side by side for each endpoint and database: a pair runs
      // seconds apart, under the same load from outside, so their ratio is fair on a busy machine.
      ...measured.flatMap((m) =>
        (['pay', 'check'] as const).flatMap((endpoint) =>
          targets
            .filter((t) => t === m || (t.baselineDir && t.db === m.db))
            .map((t) => ({
              what: `${endpoint} ${t.name}`,
              db: t.name,
              endpoint,
              port: t.child!.port,
              pid: t.child!.child.pid,
              dbPid: t.db === 'mysql' ? mysqlPid : null,
            })),
        ),
      ),
    ];

    // Warm-up: JIT, pools and caches, so round 1 is not a cold start.
    for (const p of plan)
      await load({
        label: `warm ${p.what}`,
        port: p.port,
        path: pathMaker(p.endpoint, settings.accounts, nextTxn),
        connections: settings.connections,
        seconds: Math.min(3, settings.roundS),
      });

    say('');
    say('## Rounds (interleaved: each round runs every target once, starting one later each round)');
    say(
      `${pad('round', 6)}${pad('target', 18)}${lpad('req/s', 8)}${lpad('p50 ms', 8)}${lpad('p99 ms', 8)}${lpad('errors', 8)}${lpad('× bare', 8)}${lpad('cpu µs', 8)}${lpad('db µs', 8)}`,
    );
    for (let round = 1; round <= settings.rounds; round++) {
      const order = plan.map((_, i) => plan[(i + round - 1) % plan.length]!);
      // Every other round backwards: within a pair, the baseline goes first as often as this checkout.
      if (round % 2 === 0) order.reverse();
      const inRound: Run[] = [];
      for (const p of order) {
        const cpu0 = treeCpuMs(p.pid);
        const db0 = cpuMs(p.dbPid ?? undefined);
        const res = await load({
          label: p.what,
          port: p.port,
          path: pathMaker(p.endpoint, settings.accounts, nextTxn),
          connections: settings.connections,
          seconds: settings.roundS,
        });
        const cpu1 = treeCpuMs(p.pid);
        const db1 = cpuMs(p.dbPid ?? undefined);
        const perReq = (a: number | null, b: number | null) =>
          a === null || b === null || res.requests === 0 ? null : ((b - a) * 1000) / res.requests;
        inRound.push({
          round,
          what: p.what,
          db: p.db,
          endpoint: p.endpoint,
          res,
          cpuUs: perReq(cpu0, cpu1),
          dbCpuUs: perReq(db0, db1),
        });
      }
      const bareRps = inRound.find((r) => r.endpoint === 'bare')!.res.rps;
      for (const r of inRound.sort(
        (a, b) => plan.findIndex((p) => p.what === a.what) - plan.findIndex((p) => p.what === b.what),
      )) {
        say(
          `${pad(String(round), 6)}${pad(r.what, 18)}${lpad(fmt(r.res.rps), 8)}${lpad(fmt(r.res.p50, 1), 8)}${lpad(fmt(r.res.p99, 1), 8)}${lpad(String(r.res.errors), 8)}${lpad(fmt(r.res.rps / bareRps, 2), 8)}${lpad(r.cpuUs === null ? '-' : fmt(r.cpuUs), 8)}${lpad(r.dbCpuUs === null ? '-' : fmt(r.dbCpuUs), 8)}`,
        );
      }
      runs.push(...inRound);
    }

    const ratioOf = (what: string) =>
      runs
        .filter((r) => r.what === what)
        .map((r) => r.res.rps / runs.find((b) => b.round === r.round && b.endpoint === 'bare')!.res.rps);
    say('');
    say(`## Summary: median of ${settings.rounds} rounds, ${settings.connections} connections`);
    say(
      `| endpoint | database | req/s | p50 ms | p99 ms | errors | ratio to bare Express | server CPU µs/req | MySQL CPU µs/req |`,
    );
    say(`|---|---|---:|---:|---:|---:|---:|---:|---:|`);
    for (const p of plan) {
      const all = runs.filter((r) => r.what === p.what);
      const mine = all.map((r) => r.res);
      const cpu = all.map((r) => r.cpuUs).filter((x): x is number => x !== null);
      const dbCpu = all.map((r) => r.dbCpuUs).filter((x): x is number => x !== null);
      say(
        `| ${p.endpoint === 'bare' ? 'bare Express' : p.endpoint} | ${p.db} | ${fmt(median(mine.map((m) => m.rps)))} | ${fmt(median(mine.map((m) => m.p50)), 1)} | ${fmt(median(mine.map((m) => m.p99)), 1)} | ${mine.reduce((s, m) => s + m.errors, 0)} | ${p.endpoint === 'bare' ? '1.00' : fmt(median(ratioOf(p.what)), 2)} | ${cpu.length ? fmt(median(cpu)) : '-'} | ${dbCpu.length ? fmt(median(dbCpu)) : '-'} |`,
      );
    }

    if (targets.some((t) => t.baselineDir)) {
      // Paired by round: the two ran minutes apart at most, under the same load from outside.
      say('');
      say(`## This checkout against the baseline, paired by round (median of ${settings.rounds} rounds)`);
      say('| endpoint | database | req/s now / before | per-round ratios | server CPU µs/req now / before |');
      say('|---|---|---:|---|---:|');
      for (const t of measured) {
        for (const endpoint of ['pay', 'check'] as const) {
          const now = runs.filter((r) => r.what === `${endpoint} ${t.name}`);
          const before = runs.filter((r) => r.what === `${endpoint} ${t.db}-base`);
          const ratios = now.map((r) => r.res.rps / before.find((b) => b.round === r.round)!.res.rps);
          const cpu = (xs: Run[]) => median(xs.map((r) => r.cpuUs).filter((x): x is number => x !== null));
          say(
            `| ${endpoint} | ${t.db} | ${fmt(median(ratios), 2)} | ${ratios.map((x) => fmt(x, 2)).join(' ')} | ${fmt(cpu(now))} / ${fmt(cpu(before))} |`,
          );
        }
      }
    }

    say('');
    say(`## ${settings.wideConnections} connections, pay, ${settings.wideS} s`);
    for (const t of measured) {
      const r = await load({
        label: `wide ${t.db}`,
        port: t.child!.port,
        path: pathMaker('pay', settings.accounts, nextTxn),
        connections: settings.wideConnections,
        seconds: settings.wideS,
      });
      say(
        `${t.db}: ${r.requests} answers, ${fmt(r.rps)} req/s, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, errors ${r.errors} ` +
          `(connection ${r.detail.errors}, timeouts ${r.detail.timeouts}, non-2xx ${r.detail.non2xx}, result not 0 ${r.detail.mismatches})`,
      );
    }

    say('');
    say(
      `## Storm: ${settings.storm} identical pays (one txn_id) over ${Math.min(settings.wideConnections, settings.storm)} connections`,
    );
    for (const t of measured) {
      const s = await stormOf(t, settings.storm);
      const results = [...s.results.entries()].map(([k, v]) => `result ${k}: ${v}`).join(', ');
      say(
        `${t.db}: ${s.r.requests} answers (${results}), distinct prv_txn ${s.prvTxns.size}, payments ${s.payments}, credits ${s.credits}, ` +
          `p99 ${fmt(s.r.p99, 1)} ms -> ${s.credits === 1 && s.payments === 1 && s.prvTxns.size === 1 ? 'credited once' : 'WRONG'}`,
      );
    }

    for (const c of children.splice(0)) await c.stop();

    say('');
    say('## Ledger (after a clean stop: the request log flushed)');
    const ledgers: LedgerReport[] = [];
    for (const t of targets) {
      const db = createDb(t.url);
      try {
        const l = await checkLedger(db);
        ledgers.push(l);
        const [{ c: logRows }] = (await db.knex('request_log').count({ c: '*' })) as [{ c: number | string }];
        say(
          `${t.name}: payments ${l.payments}, credited ${l.credited}, credit lines ${l.credits}, doubled ${l.doubled}, orphans ${l.orphans}, ` +
            `unfinished ${l.unfinished}, balances − credited amounts ${l.balanceGap}, request log rows ${logRows} -> ${l.ok ? 'OK' : 'BROKEN'}`,
        );
      } finally {
        await db.close();
      }
    }
    if (settings.cpuProf) say(`cpu profiles: ${workDir}/*.cpuprofile`);
    const payRatio = median(ratioOf('pay mysql'));
    const payP99 = median(runs.filter((r) => r.what === 'pay mysql').map((r) => r.res.p99));
    say('');
    say(
      `load average at the end ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    if (ledgers.some((l) => !l.ok)) process.exitCode = 1;
    say(`pay_ratio=${payRatio.toFixed(2)} p99_ms=${payP99.toFixed(1)}`);
  } finally {
    for (const c of children) await c.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
