import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check, newTxnId, pay } from '../support/kaspi.js';

describe.each(dbKinds)('[%s] kaspi smoke', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(kind);
    await t.gateway.stores.accounts.addAccount({ account: '7001', name: 'Ivan Petrov', balance: 0 });
  });
  afterAll(() => t.close());

  it('when an account exists, then check answers 0 and pay credits it once', async () => {
    const c = await check(t.api(), newTxnId(), '7001');
    expect(c.xml.result).toBe('0');
    const txn = newTxnId();
    const p1 = await pay(t.api(), txn, '7001', '200.00');
    const p2 = await pay(t.api(), txn, '7001', '200.00');
    expect(p1.xml).toEqual(p2.xml);
    expect(p1.xml.txn_id).toBe(txn);
    expect((await t.gateway.stores.accounts.getAccount('7001'))?.balance).toBe(20000);
  });
});
