import { createTestDatabase, dbKinds, type TestDatabase } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { AUTH, creditedPayment, makeDue, refundLedger, startRefundGateway } from '../support/refunds.js';

/** Two gateways on one database: two workers (or hosts) of one deployment. */
describe.each(dbKinds)('[%s] two gateways sharing one database', (kind) => {
  let fake: FakeRefundApi;
  let database: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    database = await createTestDatabase(kind);
    a = await startRefundGateway(kind, fake, {}, database);
    b = await startRefundGateway(kind, fake, {}, database);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.drop();
    await fake.stop();
  });

  it('when both run the poll tick at once, then one of them polls, each refund once, and the token is not fought over', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const g = i % 2 === 0 ? a : b;
      const p = await creditedPayment(g, '100.00');
      fake.script(p.txnId, [{ status: 0 }, { status: 4 }, { status: 2 }]);
      const res = await g
        .admin()
        .post('/api/refunds')
        .set(AUTH)
        .send({ txnId: p.txnId, amount: '30.00', reason: 'two' });
      expect(res.body.status).toBe('accepted');
      ids.push(res.body.id as string);
    }
    fake.refundDelayMs = 40; // a tick lasts long enough for the other gateway's tick to meet it
    try {
      for (const expected of ['in_progress', 'success']) {
        const asked = fake.calls.RefundStatus;
        await makeDue(a.gateway);
        const ran = await Promise.all([
          a.gateway.scheduler.runNow('refund-poll'),
          b.gateway.scheduler.runNow('refund-poll'),
        ]);
        expect(ran.filter(Boolean)).toHaveLength(1);
        expect(fake.calls.RefundStatus - asked).toBe(ids.length);
        const rows = await a.gateway.db.knex('refunds').whereIn('id', ids);
        expect(rows.map((r) => r.status)).toEqual(ids.map(() => expected));
      }
    } finally {
      fake.refundDelayMs = 0;
    }
    for (const id of ids) expect(await refundLedger(a.gateway, id)).toHaveLength(1);
    expect(fake.issued).toHaveLength(1);
    expect(fake.unauthorized).toBe(0);
  });
});
