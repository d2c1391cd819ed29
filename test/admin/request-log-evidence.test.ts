import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check, newTxnId, pay } from '../support/kaspi.js';

const AUTH = { Authorization: 'Bearer test-admin-key-0123456789' };

describe.each(dbKinds)('[%s] a payment’s request-log evidence on the admin API', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(kind);
    await t.gateway.stores.accounts.addAccount({ account: 'EV-1', name: 'Payer', balance: 0 });
  });
  afterAll(() => t.close());

  it('when Kaspi checked, paid and repeated a txn_id, then every exchange comes back oldest first with the raw query and our answer', async () => {
    const txn = newTxnId();
    const other = newTxnId();
    await check(t.api(), txn, 'EV-1');
    const first = await pay(t.api(), txn, 'EV-1', '5.00');
    await pay(t.api(), txn, 'EV-1', '5.00');
    await pay(t.api(), other, 'EV-1', '1.00');
    await t.gateway.stores.requestLog.flush();

    const res = await t.admin().get(`/api/payments/${txn}/request-log`).set(AUTH);

    expect(res.status).toBe(200);
    expect(res.body.txnId).toBe(txn);
    const entries = res.body.entries as Record<string, unknown>[];
    expect(entries.map((e) => [e.command, e.result, e.httpStatus])).toEqual([
      ['check', '0', 200],
      ['pay', '0', 200],
      ['pay', '0', 200],
    ]);
    for (const e of entries) {
      expect(e.channel).toBe('kaspi');
      expect(e.request).toContain(`txn_id=${txn}`);
      expect(e.response).toContain(`<txn_id>${txn}</txn_id>`);
      expect(String(e.clientIp)).toMatch(/127\.0\.0\.1|::1/);
      expect(String(e.at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(entries[1]?.response).toContain(`<prv_txn>${first.xml.prv_txn}</prv_txn>`);
    expect(Number(entries[0]?.id)).toBeLessThan(Number(entries[2]?.id));
  });

  it('when a txn_id has no entry, then the list is empty; when it is not a txn_id, then 400', async () => {
    const none = await t.admin().get(`/api/payments/${newTxnId()}/request-log`).set(AUTH);
    expect(none.status).toBe(200);
    expect(none.body.entries).toEqual([]);
    const bad = await t
      .admin()
      .get(`/api/payments/${'9'.repeat(65)}/request-log`)
      .set(AUTH);
    expect(bad.status).toBe(400);
    expect((await t.admin().get(`/api/payments/1/request-log`)).status).toBe(401);
  });

  it('when a page cursor is not an id, then 400 and no list', async () => {
    for (const before of ['abc', '0', '-1', '1.5', '1'.repeat(21)]) {
      const p = await t.admin().get(`/api/payments?before=${before}`).set(AUTH);
      expect(p.status).toBe(400);
      expect(p.body.message).toMatch(/before must be an id/);
      expect((await t.admin().get(`/api/refunds?before=${before}`).set(AUTH)).status).toBe(400);
    }
  });
});
