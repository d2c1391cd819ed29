import type { Knex } from 'knex';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { startTestGateway, type ConfigOverrides, type TestGateway } from '../support/gateway.js';
import {
  callbackFields,
  checkDeposit,
  JETPAY_CONFIG,
  postJetpay,
  Raw,
  seen,
  signedText,
  switchableBilling,
  type JetpayReply,
  type SwitchableBilling,
} from '../support/jetpay.js';
import { captureLogs } from '../support/log-capture.js';

/**
 * The Gate platform's redelivery loop, played as the platform plays it: it sends a callback again
 * until it gets HTTP 200. Whatever fails on our side (billing down, database frozen, the billing
 * flapping under concurrent deliveries), the loop ends with one credit, and no HTTP 200 is given
 * before the credit is committed. On the embedded billing and on the external one.
 */
const DEADLINE_MS = 500;
/** What an answer may take beyond the deadline: the JSON, the socket, a loaded CI machine. */
const SLACK_MS = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logs = captureLogs('info');

type BillingKind = 'embedded' | 'http';

/** A gateway with a billing we can take down, and a way to count what the billing credited. */
interface Rig {
  t: TestGateway;
  /** The same database and billing, one pool connection and a short deadline: to freeze. */
  frozen: TestGateway;
  setDown(down: boolean): void;
  newAccount(): Promise<string>;
  /** Credits the billing holds for this deposit (embedded: ledger lines; http: applied keys). */
  credits(paymentId: string): Promise<number>;
  close(): Promise<void>;
}

let accountSeq = 0;

async function embeddedRig(kind: (typeof dbKinds)[number], database: TestDatabase): Promise<Rig> {
  const config: ConfigOverrides = { ...JETPAY_CONFIG, PAY_MIN_SUM: '1.00', RETRY_STUCK_AFTER_MS: 1000 };
  const sw = switchableBilling();
  const t = await startTestGateway(kind, config, sw.overrides, database);
  const billing = sw.holder.billing as SwitchableBilling;
  const swFrozen = switchableBilling();
  const frozen = await startTestGateway(
    kind,
    { ...config, PAY_DEADLINE_MS: DEADLINE_MS, DB_POOL_MAX: 1 },
    swFrozen.overrides,
    database,
  );
  return {
    t,
    frozen,
    setDown: (down) => void (billing.down = down),
    async newAccount() {
      const account = `76${String(++accountSeq).padStart(8, '0')}`;
      await t.gateway.stores.accounts.addAccount({ account, name: 'Ivan Petrov', balance: 0 });
      return account;
    },
    async credits(paymentId) {
      const p = await t.gateway.stores.payments.findByTxn('jetpay', paymentId);
      const rows = await t.gateway.db
        .knex('account_ledger')
        .where({ payment_id: p?.id ?? '0', kind: 'credit' })
        .count({ n: '*' });
      return Number(rows[0]?.n);
    },
    async close() {
      await t.close();
      await frozen.close();
    },
  };
}

async function httpRig(kind: (typeof dbKinds)[number], database: TestDatabase): Promise<Rig> {
  const fake = await new FakeBilling().start();
  const config: ConfigOverrides = {
    ...JETPAY_CONFIG,
    PAY_MIN_SUM: '1.00',
    RETRY_STUCK_AFTER_MS: 1000,
    BILLING_ADAPTER: 'http',
    BILLING_URL: fake.url,
    BILLING_TIMEOUT_MS: 300,
    BILLING_MAX_ATTEMPTS: 2,
    BILLING_RETRY_BASE_MS: 20,
  };
  const t = await startTestGateway(kind, config, {}, database);
  const frozen = await startTestGateway(
    kind,
    { ...config, PAY_DEADLINE_MS: DEADLINE_MS, DB_POOL_MAX: 1 },
    {},
    database,
  );
  return {
    t,
    frozen,
    setDown: (down) => void (fake.mode = down ? '5xx' : 'ok'),
    async newAccount() {
      const account = `77${String(++accountSeq).padStart(8, '0')}`;
      fake.accounts.set(account, { name: 'Ivan Petrov', balance: '0.00' });
      return account;
    },
    async credits(paymentId) {
      const key = `jetpay:${paymentId}`;
      // The fake applies a key once by design; two sends of one credit at once would still be a bug.
      expect(fake.maxConcurrentPerKey.get(key) ?? 0).toBeLessThanOrEqual(1);
      return fake.appliedCount(key);
    },
    async close() {
      await t.close();
      await frozen.close();
      await fake.close();
    },
  };
}

describe.each(dbKinds)('[%s] JetPay callback redelivery', (kind) => {
  let database: TestDatabase;
  const rigs = new Map<BillingKind, Rig>();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    rigs.set('embedded', await embeddedRig(kind, database));
    rigs.set('http', await httpRig(kind, database));
  });
  afterEach(() => {
    for (const r of rigs.values()) r.setDown(false);
  });
  afterAll(async () => {
    for (const r of rigs.values()) await r.close();
    await database.drop();
  });

  describe.each(['embedded', 'http'] as const)('with the %s billing', (billingKind) => {
    const rig = () => rigs.get(billingKind) as Rig;

    async function deposit(amount: number): Promise<{ account: string; paymentId: string; text: string }> {
      const account = await rig().newAccount();
      const r = await checkDeposit(rig().t.api(), account, account, new Raw(String(amount)));
      expect(r.body.code).toBe(0);
      const paymentId = String(r.body.payment_id);
      return {
        account,
        paymentId,
        text: signedText(callbackFields(paymentId, 'success', new Raw(String(amount)))),
      };
    }
    const deliver = (g: TestGateway, text: string) => postJetpay(g.api(), '/jetpay/callback', text);
    const state = async (paymentId: string) =>
      (await rig().t.gateway.stores.payments.findByTxn('jetpay', paymentId))?.state;

    /** Every HTTP 200 is checked the moment it arrives: the credit must already be committed. */
    async function deliverChecked(g: TestGateway, paymentId: string, text: string): Promise<JetpayReply> {
      const r = await deliver(g, text);
      expect([200, 500]).toContain(r.status);
      if (r.status === 200) {
        expect(seen(r)).toEqual({ http: 200, code: 0 });
        expect(await state(paymentId)).toBe('credited');
        expect(await rig().credits(paymentId)).toBe(1);
      } else {
        expect(seen(r)).toEqual({
          http: 500,
          code: 500,
          message: 'Payment is being processed, repeat the callback later',
        });
      }
      return r;
    }

    /** The platform's loop: the same callback again until HTTP 200 (bounded). */
    async function redeliverUntil200(g: TestGateway, paymentId: string, text: string): Promise<number> {
      for (let n = 1; n <= 60; n++) {
        if ((await deliverChecked(g, paymentId, text)).status === 200) return n;
        await sleep(100);
      }
      throw new Error(`callback for ${paymentId} never got HTTP 200`);
    }

    it('when the billing is down, then HTTP 500; when it is back, the same callback gets 200 and one credit', async () => {
      const { paymentId, text } = await deposit(15000);
      rig().setDown(true);
      for (let i = 0; i < 2; i++) expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(500);
      expect(await rig().credits(paymentId)).toBe(0);
      rig().setDown(false);
      expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(200);
      expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(200);
      expect(await rig().credits(paymentId)).toBe(1);
    });

    it('when the database is frozen past the deadline, then HTTP 500 in time; once it thaws, redelivery gets 200 and one credit', async () => {
      const { frozen } = rig();
      const { paymentId, text } = await deposit(16000);
      // Take the frozen gateway's only pool connection, as a stuck query or a drained pool would.
      const trx: Knex.Transaction = await frozen.gateway.db.knex.transaction();
      await trx.raw('select 1');
      // Thawed by the time the answer is overdue anyway, so a missing deadline fails on the timing.
      const thaw = setTimeout(() => void trx.commit(), DEADLINE_MS + SLACK_MS + 200);
      const started = performance.now();
      const first = await deliver(frozen, text);
      const ms = performance.now() - started;
      clearTimeout(thaw);
      if (!trx.isCompleted()) await trx.commit();
      expect(seen(first)).toEqual({
        http: 500,
        code: 500,
        message: 'Payment is being processed, repeat the callback later',
      });
      expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
      await redeliverUntil200(frozen, paymentId, text);
      expect(await rig().credits(paymentId)).toBe(1);
    });

    it('when 10 deliveries of one callback race while the billing flaps, then every answer is 200 or 500, no 200 before the credit, one credit', async () => {
      const { account, paymentId, text } = await deposit(17000);
      rig().setDown(true);
      expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(500);
      let down = true;
      const flapper = setInterval(() => {
        down = !down;
        rig().setDown(down);
      }, 15);
      const statuses: number[] = [];
      try {
        for (let round = 0; round < 20 && !statuses.includes(200); round++) {
          const answers = await Promise.all(
            Array.from({ length: 10 }, async (_, i) => {
              await sleep(i * 7); // spread over the flapping
              return deliverChecked(rig().t, paymentId, text);
            }),
          );
          statuses.push(...answers.map((a) => a.status));
        }
      } finally {
        clearInterval(flapper);
        rig().setDown(false);
      }
      expect(statuses).toContain(200); // deliverChecked saw each one: 200 or 500, a 200 only after the credit
      await redeliverUntil200(rig().t, paymentId, text);
      expect(await rig().credits(paymentId)).toBe(1);
      if (billingKind === 'embedded') {
        expect((await rig().t.gateway.stores.accounts.getAccount(account))?.balance).toBe(17000);
      }
    });

    it('when a callback keeps getting 500 past RETRY_STUCK_AFTER_MS, then an ERROR says so (and not before)', async () => {
      const { paymentId, text } = await deposit(18000);
      const stuckErrors = () =>
        logs.lines.filter(
          (l) => l.level === 'error' && l.paymentId === paymentId && l.message.includes('keeps getting 500'),
        );
      rig().setDown(true);
      expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(500);
      await rig().t.gateway.stores.requestLog.flush();
      expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(500);
      await sleep(200);
      expect(stuckErrors()).toHaveLength(0);

      await sleep(1000); // RETRY_STUCK_AFTER_MS is 1000 in these gateways
      expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(500);
      for (let i = 0; i < 40 && stuckErrors().length === 0; i++) await sleep(50);
      expect(stuckErrors()).toHaveLength(1);
      expect(stuckErrors()[0]).toMatchObject({ module: 'jetpay', stuckAfterMs: 1000 });
      expect(stuckErrors()[0]?.inDoubtMs).toBeGreaterThanOrEqual(1000);

      rig().setDown(false);
      expect((await deliverChecked(rig().t, paymentId, text)).status).toBe(200);
      expect(await rig().credits(paymentId)).toBe(1);
    });
  });
});
