import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { startChildServer, type ChildServer } from '../support/child-process.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { FakeBilling, type HoldMode } from '../support/fake-billing.js';
import { startFakeKaspiQr, type FakeKaspiQr } from '../support/fake-kaspi-qr.js';
import { startTestGateway } from '../support/gateway.js';
import { ADMIN, kaspiQrConfig, QR_API_KEY } from '../support/kaspi-qr.js';
import { captureLogs } from '../support/log-capture.js';
import { testCerts, type TestCerts } from '../support/test-ca.js';

const logs = captureLogs('warn');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number, log: () => string) {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}\n${log()}`);
    await sleep(200);
  }
}

const children = new Set<ChildServer>();
afterAll(() => Promise.all([...children].map((c) => c.kill9())));

/**
 * The status engine across processes: a gateway killed -9 while its engine is crediting a paid
 * purchase (the billing holding the credit call, applied or not); after a restart the purchase is
 * credited exactly once, by the same idempotency key.
 */
describe.each(dbKinds)('[%s] the Kaspi QR engine when its process dies mid-credit', (kind) => {
  let certs: TestCerts;
  let qr: FakeKaspiQr;
  let billing: FakeBilling;
  let database: TestDatabase;

  beforeAll(async () => {
    certs = testCerts();
    qr = await startFakeKaspiQr({ scheme: 'r1', certs, apiKey: QR_API_KEY });
  });
  afterAll(() => qr.stop());
  beforeEach(async () => {
    database = await createTestDatabase(kind);
    billing = await new FakeBilling().start();
    billing.accounts.set('QR-9', { name: 'Q R' });
  });
  afterEach(async () => {
    await billing.close();
    await database.drop();
  });

  const billingConfig = () =>
    ({
      BILLING_ADAPTER: 'http',
      BILLING_URL: billing.url,
      BILLING_TIMEOUT_MS: 1000,
      BILLING_MAX_ATTEMPTS: 1,
      RETRY_BACKOFF_MS: 100,
      RETRY_BACKOFF_MAX_MS: 1000,
    }) as const;

  it.each<HoldMode>(['after-apply', 'before-apply'])(
    'when killed while the billing holds the credit (%s), then after a restart it is credited once',
    async (hold) => {
      const env: Record<string, string> = {
        DATABASE_URL: database.url,
        ADMIN_API_KEY: 'test-admin-key-0123456789',
        LOG_LEVEL: 'warn',
      };
      const cfg = {
        ...kaspiQrConfig(qr, certs, { KASPI_QR_POLL_CRON: '* * * * * *', KASPI_QR_TIMEOUT_MS: 1000 }),
        ...billingConfig(),
        RETRY_CRON: '0 0 1 1 *', // the child never retries: only the restarted process finishes it
      };
      for (const [k, v] of Object.entries(cfg)) env[k] = String(v);
      const child = await startChildServer(env);
      children.add(child);

      const res = await fetch(`http://127.0.0.1:${child.adminPort}/api/qr/payments`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json', 'Idempotency-Key': `kill-${hold}` },
        body: JSON.stringify({ account: 'QR-9', amount: '300.00', kind: 'qr' }),
      });
      expect(res.status).toBe(201);
      const c = (await res.json()) as { id: string; txnId: string };
      billing.hold = hold;
      qr.setStatus(c.txnId, 'Processed');
      await billing.waitForCreditCalls(1, 20_000);
      await child.kill9();
      billing.heal();

      const restarted = await startTestGateway(
        kind,
        { ...cfg, RETRY_CRON: '* * * * * *', KASPI_QR_POLL_CRON: '* * * * * *' },
        {},
        database,
      );
      await restarted.gateway.start();
      try {
        const q = restarted.gateway.db.knex;
        await until(
          'the purchase is paid and credited',
          async () => {
            const p = await q('payments').where({ id: c.id }).first();
            const d = await q('kaspi_qr_purchases').where({ payment_id: c.id }).first();
            return p?.state === 'credited' && d?.state === 'paid';
          },
          45_000,
          () => [child.stderr(), logs.raw()].join('\n'),
        );
        const key = `kaspi_qr:${c.txnId}`;
        expect(billing.appliedCount(key)).toBe(1);
        expect(
          billing.creditCalls(key).every((r) => r.body?.txnId === c.txnId && r.body?.source === 'kaspi_qr'),
        ).toBe(true);
        expect(billing.contractViolations).toEqual([]);
        const shown = await restarted.admin().get(`/api/qr/payments/${c.id}`).set(ADMIN);
        expect(shown.body).toMatchObject({ state: 'paid', credit: 'credited' });
      } finally {
        await restarted.close();
      }
      logs.clear();
    },
    90_000,
  );
});
