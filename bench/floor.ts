/**
 * Bare Express against the floor server (Express + the one database call a check or a pay needs,
 * nothing else: bench/floor-server.ts) and the gateway, interleaved like bench/run.ts: how close the
 * gateway is to what this machine allows, as CPU per request of the server process. `npx tsx
 * bench/floor.ts` (BENCH_ROUND_S, BENCH_ROUNDS; BENCH_FLOOR_RATE=n for a fixed rate instead of
 * saturation; BENCH_FLOOR_PAIRED=0 to load one target at a time instead of the floor and the gateway
 * of a command together; BENCH_CPU_PROF=1 leaves the gateway's V8 profile in the log folder;
 * BENCH_BASELINE_DIR=<another checkout> adds that checkout's gateway to each command's group, for a
 * before/after under the same load at the same moment).
 * Last line, medians of the rounds: check_floor_cpu=<gateway check CPU / floor check CPU per request>
 * pay_floor_rps=<gateway pay req/s / floor pay req/s> pay_floor_cpu=<as for check>.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createDb } from '../src/db/db.js';
import { resetDatabase, seedAccounts } from './bench-db.js';
import { startChild, type Child } from './children.js';
import { load, pathMaker, txnIds, type Endpoint } from './load.js';
import { cpuMs } from './proc-cpu.js';

const url = process.env.BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/gw_bench';
const roundS = Number(process.env.BENCH_ROUND_S ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const rate = Number(process.env.BENCH_FLOOR_RATE ?? 0);
const paired = process.env.BENCH_FLOOR_PAIRED !== '0';
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
const prof = process.env.BENCH_CPU_PROF ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${workDir}`] } : {};
const bare = await startChild('bare', 'bench/bare-server.ts', {}, workDir);
const floor = await startChild('floor', 'bench/floor-server.ts', env, workDir);
const gateway = await startChild('gateway', 'bench/gateway-server.ts', env, workDir, prof);
const baselineDir = process.env.BENCH_BASELINE_DIR;
const baseline = baselineDir
  ? await startChild('baseline', 'bench/gateway-server.ts', env, workDir, { cwd: baselineDir })
  : undefined;
const targets: { name: string; c: Child; endpoint: Endpoint }[] = [
  { name: 'bare express', c: bare, endpoint: 'bare' },
  { name: 'floor check', c: floor, endpoint: 'check' },
  { name: 'gateway check', c: gateway, endpoint: 'check' },
  ...(baseline ? [{ name: 'baseline check', c: baseline, endpoint: 'check' as const }] : []),
  { name: 'floor pay', c: floor, endpoint: 'pay' },
  { name: 'gateway pay', c: gateway, endpoint: 'pay' },
  ...(baseline ? [{ name: 'baseline pay', c: baseline, endpoint: 'pay' as const }] : []),
];
const nextTxn = txnIds('6');

async function fixedRate(port: number, endpoint: Endpoint) {
  const next = pathMaker(endpoint, 2000, nextTxn);
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 16,
    overallRate: rate,
    duration: roundS,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: next() }) }],
  });
  return {
    requests: r.requests.total,
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};
const cpuOf: Record<string, number[]> = {};
const rpsOf: Record<string, number[]> = {};
console.log(
  `${rate ? `fixed rate ${rate}/s` : 'saturation, 16 connections'} per target, ${paired ? 'floor and gateway at once' : 'one target at a time'}, ` +
    `${rounds} rounds × ${roundS} s; load average ${os.loadavg()[0]?.toFixed(1)}; logs in ${workDir}`,
);
console.log('round target            req/s  p50 ms  p99 ms  errors  × bare  cpu µs');
const measure = async (t: (typeof targets)[number]) => {
  const c0 = cpuMs(t.c.child.pid) as number;
  const res = rate
    ? await fixedRate(t.c.port, t.endpoint)
    : await load({
        label: t.name,
        port: t.c.port,
        path: pathMaker(t.endpoint, 2000, nextTxn),
        connections: 16,
        seconds: roundS,
      });
  return { res, cpu: (((cpuMs(t.c.child.pid) as number) - c0) * 1000) / Math.max(1, res.requests) };
};
for (const t of targets)
  // warm every path up (JIT, pools) before the first measured round
  await load({
    label: t.name,
    port: t.c.port,
    path: pathMaker(t.endpoint, 2000, nextTxn),
    connections: 4,
    amount: 500,
  });
for (let r = 1; r <= rounds; r++) {
  let bareRps = 0;
  // Paired (the default): the floor and the gateway of one command under load at the same time, so
  // whatever else the shared machine runs weighs on both alike; BENCH_FLOOR_PAIRED=0 runs them in turn.
  const groups = paired
    ? [
        targets.filter((t) => t.endpoint === 'bare'),
        targets.filter((t) => t.endpoint === 'check'),
        targets.filter((t) => t.endpoint === 'pay'),
      ]
    : targets.map((t) => [t]);
  for (const group of groups) {
    const measured = await Promise.all(group.map((t) => measure(t as (typeof targets)[number])));
    group.forEach((t, i) => {
      const { res, cpu } = measured[i] as Awaited<ReturnType<typeof measure>>;
      const name = (t as (typeof targets)[number]).name;
      (cpuOf[name] ??= []).push(cpu);
      (rpsOf[name] ??= []).push(res.rps);
      if (name === 'bare express') bareRps = res.rps;
      console.log(
        `${r}     ${name.padEnd(16)} ${res.rps.toFixed(0).padStart(6)} ${res.p50.toFixed(1).padStart(7)} ` +
          `${res.p99.toFixed(1).padStart(7)} ${String(res.errors).padStart(7)} ${(res.rps / bareRps).toFixed(2).padStart(7)} ${cpu.toFixed(0).padStart(7)}`,
      );
    });
  }
}
for (const c of [bare, floor, gateway, baseline]) await c?.stop();
const ratio = (of: Record<string, number[]>, a: string, b: string) =>
  median(of[a] ?? []) / median(of[b] ?? []);
const perRound = (of: Record<string, number[]>, a: string, b: string) =>
  (of[a] ?? []).map((x, i) => (x / ((of[b] ?? [])[i] ?? NaN)).toFixed(2)).join(' ');
console.log(
  `gateway / floor, per round — CPU per request: check ${perRound(cpuOf, 'gateway check', 'floor check')}, ` +
    `pay ${perRound(cpuOf, 'gateway pay', 'floor pay')}; req/s: check ${perRound(rpsOf, 'gateway check', 'floor check')}, ` +
    `pay ${perRound(rpsOf, 'gateway pay', 'floor pay')}`,
);
if (baseline)
  console.log(
    `gateway / baseline, per round — CPU per request: check ${perRound(cpuOf, 'gateway check', 'baseline check')}, ` +
      `pay ${perRound(cpuOf, 'gateway pay', 'baseline pay')}; baseline / floor CPU: check ` +
      `${perRound(cpuOf, 'baseline check', 'floor check')}, pay ${perRound(cpuOf, 'baseline pay', 'floor pay')}`,
  );
// check's goal is CPU per request (≤ 1.2× its floor), pay's throughput (≥ 0.95× its floor's)
console.log(
  `check_floor_cpu=${ratio(cpuOf, 'gateway check', 'floor check').toFixed(2)} ` +
    `pay_floor_rps=${ratio(rpsOf, 'gateway pay', 'floor pay').toFixed(2)} ` +
    `pay_floor_cpu=${ratio(cpuOf, 'gateway pay', 'floor pay').toFixed(2)}`,
);
