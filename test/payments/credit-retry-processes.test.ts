import { createDb, type Db } from '../../src/db/db.js';
import { CREDIT_RETRY_JOB } from '../../src/jobs/jobs.js';
import { startChildServer, type ChildServer } from '../support/child-process.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { startTestGateway } from '../support/gateway.js';
import { kaspiQuery, newTxnId, parseKaspi, pay, TXN_DATE } from '../support/kaspi.js';
import { captureLogs } from '../support/log-capture.js';

const logs = captureLogs('error');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  cond: () => Promise<boolean>,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}\n${log()}`);
    await sleep(100);
  }
}

function childEnv(
  database: TestDatabase,
  fake: FakeBilling,
  more: Record<string, string>,
): Record<string, string> {
  return {
    DATABASE_URL: database.url,
    KASPI_ALLOWED_IPS: '127.0.0.0/8',
    BILLING_ADAPTER: 'http',
    BILLING_URL: fake.url,
    // One 1 s attempt: a credit's claim runs out 3 s after it was taken (2 × longest call + 1 s).
    BILLING_TIMEOUT_MS: '1000',
    BILLING_MAX_ATTEMPTS: '1',
    RETRY_BACKOFF_MS: '100',
    RETRY_BACKOFF_MAX_MS: '1000',
    LOG_LEVEL: 'warn',
    ...more,
  };
}

/** The same settings as childEnv, for a gateway in this process. */
function restartConfig(fake: FakeBilling) {
  return {
    BILLING_ADAPTER: 'http',
    BILLING_URL: fake.url,
    BILLING_TIMEOUT_MS: 1000,
    BILLING_MAX_ATTEMPTS: 1,
    RETRY_BACKOFF_MS: 100,
    RETRY_BACKOFF_MAX_MS: 1000,
    RETRY_CRON: '* * * * * *',
  } as const;
}

const children = new Set<ChildServer>();
async function spawnGateway(env: Record<string, string>): Promise<ChildServer> {
  const c = await startChildServer(env);
  children.add(c);
  return c;
}
const base = (c: ChildServer) => `http://127.0.0.1:${c.port}`;

// A failed test must not leave a server running.
afterAll(() => Promise.all([...children].map((c) => c.kill9())));

describe.each(dbKinds)('[%s] pending credits across processes', (kind) => {
  let database: TestDatabase;
  let fake: FakeBilling;
  let db: Db | undefined;
  const q = () => (db as Db).knex;

  beforeEach(async () => {
    db = undefined;
    database = await createTestDatabase(kind);
    fake = await new FakeBilling().start();
  });
  afterEach(async () => {
    await db?.close();
    await fake.close();
    await database.drop();
  });

  const states = async (txns: string[]) =>
    (await q()('payments')
      .whereIn('txn_id', txns)
      .orderBy('txn_id')
      .select('txn_id', 'state', 'id', 'billing_ref')) as {
      txn_id: string;
      state: string;
      id: string | number;
      billing_ref: string | null;
    }[];

  it('when the server is killed -9 with credits in flight, then after a restart the retry job completes every one exactly once', async () => {
    const txns = Array.from({ length: 6 }, () => newTxnId());
    txns.forEach((_, i) => fake.accounts.set(`90${i}`, { name: 'K L' }));
    // Every other call is applied by the billing before it hangs; the rest hang before applying.
    fake.hold = 'alternate';
    const first = await spawnGateway(childEnv(database, fake, { RETRY_CRON: '0 0 1 1 *' }));
    const inFlight = txns.map((txn, i) =>
      fetch(
        `${base(first)}${kaspiQuery({ command: 'pay', txn_id: txn, account: `90${i}`, sum: '120.00', txn_date: TXN_DATE })}`,
      ).catch(() => null),
    );
    await fake.waitForCreditCalls(txns.length);
    await first.kill9();
    expect(first.child.signalCode).toBe('SIGKILL');
    await Promise.all(inFlight);

    db = createDb(database.url);
    // Killed mid-call: claimed and in flight (or, on a slow machine, already timed out and pending).
    for (const r of await states(txns)) expect(['crediting', 'pending']).toContain(r.state);
    fake.heal(); // held calls go on: their callers are dead, the unapplied ones are dropped
    await sleep(50);
    expect(txns.filter((txn) => fake.appliedCount(`kaspi:${txn}`) === 1)).toHaveLength(3);

    // The restart: the same service on the same database, crons on (the retry job every second).
    const restarted = await startTestGateway(kind, restartConfig(fake), {}, database);
    const { port } = await restarted.gateway.start();
    try {
      await until(
        'every payment is credited',
        async () => (await states(txns)).every((r) => r.state === 'credited'),
        15_000,
        () => logs.raw(),
      );
      for (const row of await states(txns)) {
        const key = `kaspi:${row.txn_id}`;
        expect(fake.appliedCount(key)).toBe(1);
        expect(row.billing_ref).toBe(fake.credits.get(key)?.billingRef);
        const account = `90${txns.indexOf(row.txn_id)}`;
        const query = kaspiQuery({
          command: 'pay',
          txn_id: row.txn_id,
          account,
          sum: '120.00',
          txn_date: TXN_DATE,
        });
        const res = await fetch(`http://127.0.0.1:${port}${query}`);
        expect(parseKaspi(await res.text())).toMatchObject({ result: '0', prv_txn: String(row.id) });
      }
      expect(fake.contractViolations).toEqual([]);
    } finally {
      await restarted.close();
    }
  });

  it('when two processes run the retry job, then each pending credit is sent by one of them at a time and applied once', async () => {
    fake.mode = '5xx';
    const txns = Array.from({ length: 10 }, () => newTxnId());
    const t = await startTestGateway(kind, restartConfig(fake), {}, database);
    try {
      for (const [i, txn] of txns.entries()) {
        fake.accounts.set(`91${i}`, { name: 'M N' });
        expect((await pay(t.api(), txn, `91${i}`, '50.00')).xml.result).toBe('4');
      }
    } finally {
      await t.close();
    }
    const before = new Map(txns.map((txn) => [txn, fake.creditCalls(`kaspi:${txn}`).length]));
    fake.heal();
    fake.slowMs = 150; // each send takes a while: a second sender for the same credit would overlap it

    db = createDb(database.url);
    // Two processes on one database, each with the retry job on a one-second cron: a child and this one.
    const child = await spawnGateway(
      childEnv(database, fake, { RETRY_CRON: '* * * * * *', RETRY_BATCH_SIZE: '3' }),
    );
    const here = await startTestGateway(kind, { ...restartConfig(fake), RETRY_BATCH_SIZE: 3 }, {}, database);
    await here.gateway.start();
    try {
      await until(
        'every payment is credited',
        async () => (await states(txns)).every((r) => r.state === 'credited'),
        20_000,
        () => [child.stderr(), logs.raw()].join('\n'),
      );
      for (const txn of txns) {
        const key = `kaspi:${txn}`;
        expect(fake.appliedCount(key)).toBe(1);
        expect(fake.maxConcurrentPerKey.get(key)).toBe(1);
        expect(fake.creditCalls(key).length - (before.get(txn) ?? 0)).toBe(1);
      }
      const lease = await q()('job_leases').where({ name: CREDIT_RETRY_JOB }).first();
      expect(Number(lease.fencing_token)).toBeGreaterThanOrEqual(1);
    } finally {
      await here.close();
      await child.stop();
      expect(child.child.exitCode).toBe(0);
    }
  });
});
