import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check, kaspi, newTxnId, pay } from '../support/kaspi.js';

describe.each(dbKinds)('[%s] request log', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(kind);
    await t.gateway.stores.accounts.addAccount({ account: 'RL-1', name: 'Payer', balance: 0 });
  });
  afterAll(() => t.close());

  it('when check, pay and a malformed call come in, then each is logged with ip, raw query, result, comment and duration', async () => {
    const txn = newTxnId();
    await check(t.api(), txn, 'RL-1');
    await pay(t.api(), txn, 'RL-1', '1.00');
    await kaspi(t.api(), {
      command: 'pay',
      txn_id: txn,
      account: 'RL-1',
      sum: 'bad',
      txn_date: '20261123141500',
    });
    await t.gateway.stores.requestLog.flush();
    const rows = await t.gateway.db.knex('request_log').where({ txn_id: txn }).orderBy('id');
    expect(rows.map((r) => [r.command, String(r.result), r.comment])).toEqual([
      ['check', '0', 'OK'],
      ['pay', '0', 'OK'],
      ['pay', '5', 'Invalid sum'],
    ]);
    for (const r of rows) {
      expect(r.channel).toBe('kaspi');
      expect(r.client_ip).toMatch(/127\.0\.0\.1|::1/);
      expect(r.request).toContain(`txn_id=${txn}`);
      expect(Number(r.http_status)).toBe(200);
      expect(Number(r.duration_ms)).toBeGreaterThanOrEqual(0);
      expect(String(r.at)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      expect(r.response).toContain('<response>');
    }
  });
});
