/**
 * npm run chaos — faults proved harmless. On a MariaDB server of its own (never the shared one):
 *   1. kill -9 of the gateway at random moments during a pay storm, and restart;
 *   2. MariaDB stopped and started again under load;
 *   3. MariaDB frozen (SIGSTOP) past the pay deadline, then thawed;
 * after each, Kaspi repeats what got no final answer, and the bank invariant is checked
 * (chaos/bank-invariant.ts). Exit code 1 when any scenario breaks it.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { resetDatabase, seedAccounts } from '../bench/bench-db.js';
import { startChild, type Child } from '../bench/children.js';
import { createDb } from '../src/db/db.js';
import { configureLogger } from '../src/log/logger.js';
import { checkBankInvariant } from './bank-invariant.js';
import { KaspiLedger, payStorm, repeatUntilFinal } from './kaspi-traffic.js';
import { PrivateMariaDb } from './private-mariadb.js';

const env = process.env;
const DEADLINE_MS = Number(env.CHAOS_DEADLINE_MS ?? 3000);
// The budget Kaspi's answers are held to: our deadline plus the time to write an answer out.
const BUDGET_MS = DEADLINE_MS + Number(env.CHAOS_SLACK_MS ?? 1500);
const KILLS = Number(env.CHAOS_KILLS ?? 5);
const WORKERS = Number(env.CHAOS_CONNECTIONS ?? 16);
const ACCOUNTS = 500;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-chaos-'));
const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

function gatewayEnv(url: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: url,
    DB_POOL_MAX: '10',
    ADMIN_API_KEY: 'chaos-admin-key-0123456789',
    KASPI_ALLOWED_IPS: '127.0.0.0/8',
    PAY_DEADLINE_MS: String(DEADLINE_MS),
    RETRY_CRON: '*/2 * * * * *',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    SEED_DEMO_ACCOUNTS: 'false',
  };
}

function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

interface Scenario {
  name: string;
  run(ctx: { db: PrivateMariaDb; gw: { current: Child }; restart: () => Promise<void> }): Promise<string[]>;
}

const scenarios: Scenario[] = [
  {
    name: `kill -9 of the gateway at ${KILLS} random moments of a pay storm`,
    async run({ gw, restart }) {
      const notes: string[] = [];
      for (let i = 0; i < KILLS; i++) {
        await sleep(jitter(300, 2500));
        await gw.current.kill9();
        const t = Date.now();
        await restart();
        notes.push(`kill ${i + 1}: back in ${Date.now() - t} ms`);
      }
      await sleep(1000);
      return notes;
    },
  },
  {
    name: 'MariaDB stopped and started again under load',
    async run({ db, gw }) {
      await sleep(1500);
      const t = Date.now();
      await db.stop();
      await sleep(1000);
      const health = await healthz(gw.current.adminPort);
      await sleep(jitter(1500, 3000));
      await db.start();
      const down = Date.now() - t;
      await sleep(3000);
      return [`database down ${down} ms; /healthz during the outage: ${health}`];
    },
  },
  {
    name: `MariaDB frozen (SIGSTOP) for ${DEADLINE_MS + 3000} ms, past the pay deadline`,
    async run({ db, gw }) {
      await sleep(1500);
      db.freeze();
      await sleep(1000);
      const health = await healthz(gw.current.adminPort);
      await sleep(DEADLINE_MS + 2000);
      db.thaw();
      await sleep(3000);
      return [`/healthz while frozen: ${health}`];
    },
  },
];

async function main() {
  configureLogger({ level: 'error', format: 'json' });
  say(
    `# Chaos run — ${new Date().toISOString()}; pay deadline ${DEADLINE_MS} ms, answers held to ${BUDGET_MS} ms; logs in ${workDir}`,
  );
  const only = env.CHAOS_ONLY ? env.CHAOS_ONLY.split(',').map(Number) : null;
  const db = await PrivateMariaDb.create();
  say(`private MariaDB on 127.0.0.1:${db.port}, data in ${db.dataDir}`);
  let failed = 0;
  try {
    for (const [i, s] of scenarios.entries()) {
      if (only && !only.includes(i + 1)) continue;
      say('');
      say(`## ${i + 1}. ${s.name}`);
      await resetDatabase(db.url);
      const seed = createDb(db.url);
      await seedAccounts(seed, ACCOUNTS);
      await seed.close();

      const start = () =>
        startChild(`gateway-${i + 1}`, 'bench/gateway-server.ts', gatewayEnv(db.url), workDir);
      const gw = { current: await start() };
      const restart = async () => {
        gw.current = await start();
      };
      const kaspi = new KaspiLedger();
      const storm = payStorm({
        port: () => gw.current.port,
        ledger: kaspi,
        workers: WORKERS,
        accounts: ACCOUNTS,
        prefix: `${i + 1}${Date.now() % 1e6}`,
      });
      let notes: string[] = [];
      try {
        notes = await s.run({ db, gw, restart });
      } finally {
        await storm.stop();
      }
      // Kaspi sends again what got no final answer; the retry job may need a few of its ticks.
      const open = await repeatUntilFinal(gw.current.port, kaspi, { rounds: 30, pauseMs: 1000 });
      await gw.current.stop();
      const check = createDb(db.url);
      try {
        const r = await checkBankInvariant(check, kaspi, { budgetMs: BUDGET_MS, open });
        for (const n of notes) say(`  ${n}`);
        for (const l of r.lines) say(`  ${l}`);
        say(`  -> ${r.ok ? 'PASS' : 'FAIL'}`);
        if (!r.ok) failed++;
      } finally {
        await check.close();
      }
    }
  } finally {
    await db.destroy();
  }
  say('');
  say(failed === 0 ? 'chaos: every scenario kept the bank invariant' : `chaos: ${failed} scenario(s) FAILED`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`chaos failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
