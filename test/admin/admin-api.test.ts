import { dbKinds } from '../support/databases.js';
import { FakeRefundApi } from '../support/fake-refund-api.js';
import type { TestGateway } from '../support/gateway.js';
import { newTxnId, pay } from '../support/kaspi.js';
import { ADMIN_KEY, AUTH, creditedPayment, noFloats, startRefundGateway } from '../support/refunds.js';

describe.each(dbKinds)('[%s] admin API', (kind) => {
  let fake: FakeRefundApi;
  let t: TestGateway;

  beforeAll(async () => {
    fake = new FakeRefundApi();
    await fake.start();
    t = await startRefundGateway(kind, fake);
  });
  afterAll(async () => {
    await t.close();
    await fake.stop();
  });

  it.each([
    ['get', '/api/payments'],
    ['get', '/api/payments/123'],
    ['get', '/api/refunds/1'],
    ['get', '/api/accounts/7001'],
    ['post', '/api/refunds'],
    ['post', '/api/accounts'],
    ['get', '/api/unknown'],
  ] as const)(
    'when %s %s comes without the key or with a wrong one, then 401 and nothing done',
    async (method, path) => {
      const accounts = await t.gateway.db.knex('accounts').count({ n: '*' });
      const bare = t.admin();
      const none = await bare[method](path).send({ account: 'intruder' });
      expect(none.status).toBe(401);
      expect(none.body.error).toBe('unauthorized');
      expect(none.headers['www-authenticate']).toBe('Bearer');
      for (const header of [
        `Bearer ${ADMIN_KEY}x`,
        `Bearer ${ADMIN_KEY.slice(0, -1)}`,
        `Basic ${ADMIN_KEY}`,
        ADMIN_KEY,
        'Bearer ',
      ]) {
        const agent = t.admin();
        const wrong = await agent[method](path).set('Authorization', header).send({ account: 'intruder' });
        expect(wrong.status).toBe(401);
      }
      expect(await t.gateway.db.knex('accounts').count({ n: '*' })).toEqual(accounts);
    },
  );

  it('when ADMIN_API_KEY is not set, then the API is closed, not open', async () => {
    const open = await startRefundGateway(kind, fake, { ADMIN_API_KEY: undefined });
    try {
      const res = await open.admin().get('/api/payments').set('Authorization', 'Bearer undefined');
      expect(res.status).toBe(401);
      expect(res.body.message).toMatch(/ADMIN_API_KEY is not set/);
      expect((await open.admin().get('/api/payments')).status).toBe(401);
    } finally {
      await open.close();
    }
  });

  it('when /healthz is asked without a key, then it still answers', async () => {
    expect((await t.admin().get('/healthz')).status).toBe(200);
  });

  it('when an account is created and read, then balances are "100.00" strings and integer tiyn', async () => {
    const created = await t
      .admin()
      .post('/api/accounts')
      .set(AUTH)
      .send({ account: 'A-100', name: 'Айгуль', balance: '100.50' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      account: 'A-100',
      name: 'Айгуль',
      balance: '100.50',
      balanceMinor: 10050,
      status: 'active',
    });
    const read = await t.admin().get('/api/accounts/A-100').set(AUTH);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(noFloats(read.body)).toEqual([]);
    const dup = await t.admin().post('/api/accounts').set(AUTH).send({ account: 'A-100' });
    expect(dup.status).toBe(409);
    const float = await t.admin().post('/api/accounts').set(AUTH).send({ account: 'A-101', balance: 1.5 });
    expect(float.status).toBe(400);
    expect((await t.admin().get('/api/accounts/A-101').set(AUTH)).status).toBe(404);
    expect((await t.admin().post('/api/accounts').set(AUTH).send({ account: '' })).status).toBe(400);
  });

  it('when a payment is shown, then with its refunds and what is left to refund', async () => {
    const p = await creditedPayment(t, '250.00');
    fake.script(p.txnId, [{ status: 0 }]);
    const refund = await t
      .admin()
      .post('/api/refunds')
      .set(AUTH)
      .send({ txnId: p.txnId, amount: '100.00', reason: 'part' });
    const res = await t.admin().get(`/api/payments/${p.txnId}`).set(AUTH);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      source: 'kaspi',
      txnId: p.txnId,
      account: p.account,
      amount: '250.00',
      amountMinor: 25000,
      state: 'credited',
      refundable: '150.00',
      refundableMinor: 15000,
    });
    expect(res.body.refunds.map((r: { id: string }) => r.id)).toEqual([refund.body.id]);
    expect(typeof res.body.txnId).toBe('string');
    expect(noFloats(res.body)).toEqual([]);
    const shown = await t
      .admin()
      .get(`/api/refunds/${String(refund.body.id)}`)
      .set(AUTH);
    expect(shown.body).toMatchObject({
      txnId: p.txnId,
      amount: '100.00',
      amountMinor: 10000,
      status: 'accepted',
    });
    expect(noFloats(shown.body)).toEqual([]);
    expect((await t.admin().get(`/api/payments/${newTxnId()}`).set(AUTH)).status).toBe(404);
    expect((await t.admin().get('/api/refunds/999999999').set(AUTH)).status).toBe(404);
    expect((await t.admin().get('/api/refunds/abc').set(AUTH)).status).toBe(404);
  });

  it('when payments are listed with filters, then only the matching ones, newest first', async () => {
    const a = await creditedPayment(t, '10.00');
    const b = await creditedPayment(t, '20.00');
    const failedTxn = newTxnId();
    await pay(t.api(), failedTxn, 'missing-account', '30.00');
    const all = await t.admin().get('/api/payments').set(AUTH);
    expect(all.status).toBe(200);
    const txns = all.body.payments.map((x: { txnId: string }) => x.txnId);
    expect(txns.indexOf(b.txnId)).toBeLessThan(txns.indexOf(a.txnId));
    expect(noFloats(all.body)).toEqual([]);
    const byAccount = await t.admin().get(`/api/payments?account=${a.account}`).set(AUTH);
    expect(byAccount.body.payments.map((x: { txnId: string }) => x.txnId)).toEqual([a.txnId]);
    const failed = await t.admin().get('/api/payments?status=failed').set(AUTH);
    expect(failed.body.payments.map((x: { txnId: string }) => x.txnId)).toContain(failedTxn);
    expect(failed.body.payments.every((x: { state: string }) => x.state === 'failed')).toBe(true);
    const future = await t.admin().get('/api/payments?from=2999-01-01').set(AUTH);
    expect(future.body.payments).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    const window = await t
      .admin()
      .get(`/api/payments?from=${today}T00:00:00Z&to=2999-01-01&limit=2`)
      .set(AUTH);
    expect(window.body.payments).toHaveLength(2);
    for (const bad of ['status=nope', 'from=yesterday', 'limit=0', 'limit=abc', 'source=paypal']) {
      const res = await t.admin().get(`/api/payments?${bad}`).set(AUTH);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('validation');
    }
    // Every channel a payment comes from is a filter, Kaspi QR included (one list, src/payments).
    const qr = await t.admin().get('/api/payments?source=kaspi_qr').set(AUTH);
    expect(qr.status).toBe(200);
    expect(qr.body.payments).toEqual([]);
    const bad = await t.admin().get('/api/payments?source=paypal').set(AUTH);
    expect(bad.body.message).toContain('kaspi, jetpay, kaspi_qr');
  });
});
