/**
 * CPU per request at a fixed, moderate rate: the gateway's and MariaDB's, for one endpoint. Less
 * noisy than req/s at saturation, for comparing two versions of the hot path while optimizing:
 *   npx tsx bench/cost.ts [pay|check] [rate=500] [seconds=10]
 * Uses BENCH_DATABASE_URL (default the local MariaDB, database gw_bench) with 2000 accounts.
 * BENCH_COST_SERVER=bench/floor-server.ts measures (and, with BENCH_CPU_PROF=1, profiles) the floor
 * at the same rate instead, for a profile of the gateway beside its floor's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createDb } from '../src/db/db.js';
import { migrateLatest } from '../src/db/migrate.js';
import { resetDatabase, seedAccounts } from './bench-db.js';
import { startChild } from './children.js';
import { pathMaker, txnIds, type Endpoint } from './load.js';
import { cpuMs, pidListeningOn } from './proc-cpu.js';

const endpoint = (process.argv[2] ?? 'pay') as Endpoint;
const rate = Number(process.argv[3] ?? 500);
const seconds = Number(process.argv[4] ?? 10);
const url = process.env.BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/gw_bench';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cost-'));
if (url.startsWith('mysql')) await resetDatabase(url);
const db = createDb(url);
await migrateLatest(db);
await seedAccounts(db, 2000);
await db.close();
const gw = await startChild(
  'gateway',
  process.env.BENCH_COST_SERVER ?? 'bench/gateway-server.ts',
  {
    NODE_ENV: 'production',
    DATABASE_URL: url,
    DB_POOL_MAX: process.env.BENCH_DB_POOL_MAX ?? '10',
    ADMIN_API_KEY: 'bench-admin-key-0123456789',
    KASPI_ALLOWED_IPS: '127.0.0.0/8',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    LOG_FORMAT: 'json',
    SEED_DEMO_ACCOUNTS: 'false',
  },
  workDir,
  {
    nodeArgs: [
      ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []),
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${workDir}`] : []),
    ],
  },
);
const dbPid = url.startsWith('mysql') ? pidListeningOn(Number(new URL(url).port || 3306)) : null;
const nextPath = pathMaker(endpoint, 2000, txnIds('7'));
const run = (s: number) =>
  autocannon({
    url: `http://127.0.0.1:${gw.port}`,
    connections: 16,
    overallRate: rate,
    duration: s,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: nextPath() }) }],
  });
await run(2); // warm-up
const g0 = cpuMs(gw.child.pid) as number;
const d0 = cpuMs(dbPid ?? undefined);
const r = await run(seconds);
const g = ((cpuMs(gw.child.pid) as number) - g0) * 1000;
const d = d0 === null ? null : ((cpuMs(dbPid ?? undefined) as number) - d0) * 1000;
const n = r.requests.total;
console.log(
  `${endpoint} at ${rate}/s for ${seconds} s: ${n} answers (non-2xx ${r.non2xx}, errors ${r.errors}), ` +
    `p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, gateway ${Math.round(g / n)} µs/req` +
    (d === null ? '' : `, mariadbd ${Math.round(d / n)} µs/req`) +
    `; logs in ${workDir}`,
);
await gw.stop();
