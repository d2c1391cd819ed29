import { dbKinds } from '../support/databases.js';
import { FakeBilling } from '../support/fake-billing.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check, newTxnId, pay } from '../support/kaspi.js';
import { captureLogs, type LogLine } from '../support/log-capture.js';
import { AUTH, creditedPayment, makeDue, startRefundGateway } from '../support/refunds.js';

/**
 * An upstream that fails heals itself (the retry job, the poller): the log says so in ONE WARN line
 * with the cause (failure, code, host, time), not a chain of stacks; the stack only at debug.
 */
let logs = captureLogs('warn');
const warns = (): LogLine[] => logs.lines.filter((l) => l.level === 'warn');
const STACK = /\\n\s+at |"stack"/;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.each(dbKinds)('[%s] an upstream failure in the log', (kind) => {
  describe('the external billing', () => {
    let fake: FakeBilling;
    let t: TestGateway;
    let seq = 0;
    const account = () => {
      const id = `78${kind === 'mysql' ? 1 : 2}${String(++seq).padStart(7, '0')}`;
      fake.accounts.set(id, { name: 'Ivan Petrov', balance: '100.00' });
      return id;
    };
    const host = () => new URL(fake.url).host;

    beforeAll(async () => {
      fake = await new FakeBilling().start();
      t = await startTestGateway(kind, {
        BILLING_ADAPTER: 'http',
        BILLING_URL: fake.url,
        BILLING_TIMEOUT_MS: 200,
        BILLING_MAX_ATTEMPTS: 2,
        BILLING_RETRY_BASE_MS: 10,
        PAY_DEADLINE_MS: 5000,
        RETRY_BACKOFF_MS: 60_000,
      });
    });
    afterEach(async () => {
      fake.slowMs = 0;
      await fake.up();
      logs.clear();
    });
    afterAll(async () => {
      await t.close();
      await fake.close();
    });

    it('when every billing attempt of a pay times out, then one WARN line names the timeout, host and time, without a stack', async () => {
      const acc = account();
      fake.slowMs = 700;
      const p = await pay(t.api(), newTxnId(), acc, '10.00');
      expect(p.xml.result).toBe('4');
      const w = warns();
      expect(w).toHaveLength(1);
      const line = JSON.stringify(w[0]);
      expect(line).toContain('billing_timeout');
      expect(line).toMatch(
        new RegExp(`timeout \\(ETIMEDOUT\\) from ${esc(host())} after \\d+ ms, 2 attempts`),
      );
      expect(line).not.toMatch(STACK);
      expect(line.length).toBeLessThan(1200);
    });

    it('when the billing refuses connections on check, then one WARN line says refused, with the host', async () => {
      await fake.down();
      const c = await check(t.api(), newTxnId(), account());
      expect(c.xml.result).toBe('5');
      const w = warns();
      expect(w).toHaveLength(1);
      expect(JSON.stringify(w[0])).toMatch(new RegExp(`refused \\(ECONNREFUSED\\) from ${esc(host())}`));
      expect(JSON.stringify(w[0])).not.toMatch(STACK);
    });

    it('when the log is at debug, then the same WARN line carries the stack', async () => {
      const debug = captureLogs('debug');
      try {
        await fake.down();
        await check(t.api(), newTxnId(), account());
        const w = debug.lines.filter((l) => l.level === 'warn');
        expect(w).toHaveLength(1);
        expect(JSON.stringify(w[0])).toMatch(STACK);
      } finally {
        logs = captureLogs('warn');
      }
    });
  });

  describe("Kaspi's Refund API", () => {
    let fake: FakeRefundApi;
    let t: TestGateway;

    beforeAll(async () => {
      fake = new FakeRefundApi();
      await fake.start();
      t = await startRefundGateway(kind, fake, { REFUND_BACKOFF_MS: 1000 });
    });
    afterAll(async () => {
      await t.close();
      await fake.stop();
    });

    it('when the Refund API is down at a poll, then one WARN line names the failure and the host, without a stack', async () => {
      const p = await creditedPayment(t);
      fake.script(p.txnId, [{ status: 0 }, { status: 2 }]);
      const filed = await t
        .admin()
        .post('/api/refunds')
        .set(AUTH)
        .send({ txnId: p.txnId, amount: '10.00', reason: 'log' });
      expect(filed.status).toBe(202);
      const host = new URL(fake.url).host;
      await fake.stop();
      logs.clear();
      await makeDue(t.gateway);
      await t.gateway.services.refundPoller.runOnce();
      const w = warns();
      expect(w).toHaveLength(1);
      const line = JSON.stringify(w[0]);
      expect(line).toMatch(
        // A kept-alive socket from the filing meets a reset; a new one is refused: either way, one line.
        new RegExp(
          `refund_api: (refused \\(ECONNREFUSED\\)|connection \\(ECONNRESET\\)) from ${esc(host)} after \\d+ ms`,
        ),
      );
      expect(line).not.toMatch(STACK);
      logs.clear();
    });
  });
});
