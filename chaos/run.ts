/**
 * npm run chaos — faults proved harmless. On a MariaDB server of its own (never the shared one):
 *   1. kill -9 of the gateway at random moments during a pay storm, and restart;
 *   2. MariaDB stopped and started again under load;
 *   3. MariaDB frozen (SIGSTOP) past the pay deadline, then thawed;
 *   4. the external billing (a fake on loopback) failing every way it can, and a kill -9 mid-call;
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
import { FakeBilling, type FakeMode } from '../test/support/fake-billing.js';
import { accountName } from '../bench/bench-db.js';
import { checkBankInvariant, type CreditBook } from './bank-invariant.js';
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

function gatewayEnv(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...extra,
    // One process: the scenarios kill -9 and SIGSTOP the pid they started.
    BENCH_WORKERS: '1',
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
  /** an external billing (the fake, with its faults) instead of the embedded one */
  billing?: FakeBilling;
  run(ctx: { db: PrivateMariaDb; gw: { current: Child }; restart: () => Promise<void> }): Promise<string[]>;
}

// One fake billing for the billing scenario, started in main().
const fake = new FakeBilling();

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
  {
    name: 'external billing faults: 5xx, resets, slow, garbage, down, held answers, and a kill -9 mid-call',
    billing: fake,
    async run({ gw, restart }) {
      const notes: string[] = [];
      const phase = async (what: string, ms: number, set: () => void | Promise<void>) => {
        await set();
        notes.push(`${what} ${ms} ms`);
        await sleep(ms);
      };
      const mode = (m: FakeMode) => () => {
        fake.heal();
        fake.mode = m;
      };
      await phase('healthy', 1000, () => fake.heal());
      await phase('5xx', 1500, mode('5xx'));
      await phase('connection reset', 1500, mode('reset'));
      await phase('slow (applied, answered after the timeout)', 2000, () => {
        fake.heal();
        fake.slowMs = 1500;
      });
      await phase('garbage 200', 1500, mode('garbage'));
      await phase('down (connection refused)', 2000, async () => {
        fake.heal();
        await fake.down();
      });
      await phase('answers held past the deadline', DEADLINE_MS + 1000, async () => {
        await fake.up();
        fake.heal();
        fake.hold = 'alternate';
      });
      await gw.current.kill9();
      notes.push('gateway killed with calls in flight');
      fake.release();
      await phase('5xx while restarting', 500, mode('5xx'));
      await restart();
      await phase('healthy again', 2000, () => fake.heal());
      return notes;
    },
  },
];

function creditBook(s: Scenario): CreditBook {
  if (!s.billing) return { kind: 'sql' };
  const credited = new Set<string>();
  for (const [key, c] of s.billing.credits)
    if (c.applied > 0 && key.startsWith('kaspi:')) credited.add(key.slice(6));
  return {
    kind: 'http',
    credited,
    violations: s.billing.contractViolations,
    maxConcurrentPerKey: Math.max(0, ...s.billing.maxConcurrentPerKey.values()),
  };
}

function billingEnv(s: Scenario): Record<string, string> {
  if (!s.billing) return {};
  return {
    BILLING_ADAPTER: 'http',
    BILLING_URL: s.billing.url,
    BILLING_TIMEOUT_MS: '800',
    BILLING_MAX_ATTEMPTS: '2',
    BILLING_RETRY_BASE_MS: '50',
    RETRY_CRON: '* * * * * *',
    RETRY_BACKOFF_MS: '300',
    RETRY_BACKOFF_MAX_MS: '2000',
    RETRY_LEASE_MS: '10000',
  };
}

async function main() {
  configureLogger({ level: 'error', format: 'json' });
  say(
    `# Chaos run — ${new Date().toISOString()}; pay deadline ${DEADLINE_MS} ms, answers held to ${BUDGET_MS} ms; logs in ${workDir}`,
  );
  const only = env.CHAOS_ONLY ? env.CHAOS_ONLY.split(',').map(Number) : null;
  await fake.start();
  for (let i = 0; i < ACCOUNTS; i++)
    fake.accounts.set(accountName(i), { name: 'Chaos Payer', balance: '0.00' });
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
        startChild(`gateway-${i + 1}`, 'bench/gateway-server.ts', gatewayEnv(db.url, billingEnv(s)), workDir);
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
        const r = await checkBankInvariant(check, kaspi, { budgetMs: BUDGET_MS, open, book: creditBook(s) });
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
    await fake.close();
  }
  say('');
  say(failed === 0 ? 'chaos: every scenario kept the bank invariant' : `chaos: ${failed} scenario(s) FAILED`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`chaos failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
