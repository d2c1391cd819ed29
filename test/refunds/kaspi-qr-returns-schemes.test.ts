import { registerRefundCommands } from '../../src/cli/refund-commands.js';
import { configureLogger, quietTestRun } from '../../src/log/logger.js';
import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { balanceOf } from '../support/ledger.js';
import {
  AUTH,
  paidQrPurchase,
  startFakeWithReturns,
  startReturnsGateway,
  type ReturnsSetup,
} from '../support/kaspi-qr-returns.js';
import { runCliInProcess } from '../support/cli-in-process.js';

/** Schemes without unattended returns, two gateways returning one purchase at once, and the CLI. */
describe.each(dbKinds)('[%s] Kaspi QR returns: schemes, concurrency, CLI', (kind) => {
  const post = (t: TestGateway, body: Record<string, unknown>) =>
    t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ source: 'kaspi_qr', reason: 'returned goods', ...body });

  describe('r1 and r2', () => {
    let r1: ReturnsSetup;
    let r2: ReturnsSetup;
    let off: TestGateway;
    beforeAll(async () => {
      r1 = await startReturnsGateway(kind, 'r1');
      r2 = await startReturnsGateway(kind, 'r2');
      off = await startTestGateway(kind);
    });
    afterAll(async () => {
      for (const x of [r1, r2]) {
        await x.t.close();
        await x.fake.stop();
      }
      await off.close();
    });

    it('when a return is asked on r1, then 409 not_supported_by_scheme pointing at the Kaspi Pay app, and nothing is sent or stored', async () => {
      const p = await paidQrPurchase(r1, 10000);
      const res = await post(r1.t, { txnId: p.txnId, amount: '10.00' });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('not_supported_by_scheme');
      expect(res.body.message).toMatch(/Kaspi Pay app, section Возврат/);
      expect(r1.fake.requests).toHaveLength(0);
      expect(await r1.t.gateway.db.knex('refunds')).toHaveLength(0);
    });

    it('when a return without the payer is asked on r2, then 409 pointing at POST /api/qr/returns', async () => {
      const p = await paidQrPurchase(r2, 10000);
      const res = await post(r2.t, { txnId: p.txnId, amount: '10.00' });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('not_supported_by_scheme');
      expect(res.body.message).toMatch(/POST \/api\/qr\/returns/);
      expect(r2.fake.calls('paymentReturn')).toHaveLength(0);
    });

    it('when Kaspi QR is off, then a kaspi_qr return is 409 kaspi_qr_disabled', async () => {
      const res = await post(off, { txnId: '9100000000000000001', amount: '10.00' });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('kaspi_qr_disabled');
    });
  });

  describe('two gateways on one database (r3)', () => {
    let database: TestDatabase;
    let a: ReturnsSetup;
    let b: ReturnsSetup;
    beforeAll(async () => {
      database = await createTestDatabase(kind);
      const shared = await startFakeWithReturns('r3');
      a = await startReturnsGateway(kind, 'r3', {}, database, shared);
      b = await startReturnsGateway(kind, 'r3', {}, database, shared);
    });
    afterAll(async () => {
      await a.t.close();
      await b.t.close();
      await database.drop();
      await a.fake.stop();
    });

    it('when three returns of one purchase are asked at once on two gateways, then they reach Kaspi one at a time and the total never exceeds it', async () => {
      const p = await paidQrPurchase(a, 50000);
      const applied: number[] = [];
      // Each return takes a while at Kaspi, so a second one would overlap it if nothing held it back.
      a.fake.fault('paymentReturn', { delayMs: 150, times: 3 });
      a.kaspi.afterReturn = () => applied.push(Date.now());
      const answers = await Promise.all(
        [a, b, a].map((g, i) => post(g.t, { txnId: p.txnId, amount: '200.00', reason: `race ${i}` })),
      );
      a.kaspi.afterReturn = null;
      a.fake.clearFaults();
      expect(answers.map((r) => r.status).sort()).toEqual([202, 202, 422]);
      expect(answers.filter((r) => r.status === 202).map((r) => r.body.status)).toEqual([
        'success',
        'success',
      ]);
      expect(a.kaspi.returned(p.txnId)).toBe(40000);
      // One at a time: each payment/return arrived after the one before had been applied.
      const arrivals = a.fake.calls('paymentReturn').map((r) => r.at);
      expect(arrivals).toHaveLength(2);
      expect(arrivals[1] as number).toBeGreaterThanOrEqual(applied[0] as number);
      expect(await balanceOf(a.t.gateway, p.account)).toBe(10000);
      expect(await a.t.gateway.db.knex('kaspi_qr_return_locks')).toHaveLength(0);
    });
  });

  describe('the command line (r3)', () => {
    let s: ReturnsSetup;
    beforeAll(async () => {
      configureLogger({ level: 'warn', format: 'pretty', stream: process.stderr, silent: quietTestRun() });
      s = await startReturnsGateway(kind, 'r3');
    });
    afterAll(async () => {
      await s.t.close();
      await s.fake.stop();
    });

    it('when refunds create --source kaspi_qr is run, then the purchase is returned through payment/return', async () => {
      const p = await paidQrPurchase(s, 30000);
      const out = await runCliInProcess(s.t.config, registerRefundCommands, [
        'refunds',
        'create',
        p.txnId,
        '75.50',
        'broken',
        'router',
        '--source',
        'kaspi_qr',
      ]);
      const printed = JSON.parse(out) as Record<string, unknown>;
      expect(printed).toMatchObject({
        source: 'kaspi_qr',
        status: 'success',
        amount: '75.50',
        reason: 'broken router',
      });
      expect(s.kaspi.returned(p.txnId)).toBe(7550);
      expect(s.fake.calls('paymentReturn').at(-1)?.raw).toContain('"Amount":75.5');
      expect(await balanceOf(s.t.gateway, p.account)).toBe(22450);
    });
  });
});
