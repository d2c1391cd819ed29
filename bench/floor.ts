/**
 * Bare Express against the floor server (Express + the one procedure call a pay needs, nothing
 * else) and the gateway, interleaved like bench/run.ts: how close the gateway is to what this
 * machine allows for a durable pay. `npx tsx bench/floor.ts` (BENCH_ROUND_S, BENCH_ROUNDS).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb } from '../src/db/db.js';
import { resetDatabase, seedAccounts } from './bench-db.js';
import { startChild, type Child } from './children.js';
import { load, pathMaker, txnIds } from './load.js';
import { cpuMs } from './proc-cpu.js';

const url = process.env.BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/gw_bench';
const roundS = Number(process.env.BENCH_ROUND_S ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-floor-'));

await resetDatabase(url);
const db = createDb(url);
await seedAccounts(db, 2000);
await db.close();
const env = {
  NODE_ENV: 'production',
  DATABASE_URL: url,
  ADMIN_API_KEY: 'bench-admin-key-0123456789',
  KASPI_ALLOWED_IPS: '127.0.0.0/8',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
  SEED_DEMO_ACCOUNTS: 'false',
};
const children: [string, Child][] = [
  ['bare express', await startChild('bare', 'bench/bare-server.ts', {}, workDir)],
  ['floor pay', await startChild('floor', 'bench/floor-server.ts', env, workDir)],
  ['gateway pay', await startChild('gateway', 'bench/gateway-server.ts', env, workDir)],
];
const nextTxn = txnIds('6');
console.log('round target          req/s  p50 ms  p99 ms  errors  × bare  cpu µs');
for (let r = 1; r <= rounds; r++) {
  let bare = 0;
  for (const [name, c] of children) {
    const c0 = cpuMs(c.child.pid) as number;
    const res = await load({
      label: name,
      port: c.port,
      path: pathMaker(name === 'bare express' ? 'bare' : 'pay', 2000, nextTxn),
      connections: 16,
      seconds: roundS,
    });
    const cpu = (((cpuMs(c.child.pid) as number) - c0) * 1000) / Math.max(1, res.requests);
    if (name === 'bare express') bare = res.rps;
    console.log(
      `${r}     ${name.padEnd(14)} ${res.rps.toFixed(0).padStart(6)} ${res.p50.toFixed(1).padStart(7)} ` +
        `${res.p99.toFixed(1).padStart(7)} ${String(res.errors).padStart(7)} ${(res.rps / bare).toFixed(2).padStart(7)} ${cpu.toFixed(0).padStart(7)}`,
    );
  }
}
for (const [, c] of children) await c.stop();
