import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { check, kaspi, newTxnId, pay } from '../support/kaspi.js';
import { balanceOf, creditsFor, paymentsFor } from '../support/ledger.js';

describe.each(dbKinds)('[%s] Kaspi result codes and answers', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(kind, { ACCOUNT_REGEX: '^[^\\x00-\\x1f]{1,200}$' });
    const a = t.gateway.stores.accounts;
    await a.addAccount({ account: 'A-1', name: 'Ivan Petrov', balance: 150000 });
    await a.addAccount({ account: 'A-closed', name: 'Closed Person', balance: 0 });
    await a.setAccountStatus('A-closed', 'closed');
    await a.addAccount({ account: '<a&b>', name: 'Tom "T" <O\'Neil> & Co', balance: 0 });
    await a.addOrder({
      number: 'ORD-open',
      amount: 450000,
      account: 'A-1',
      description: 'Invoice <1> & "2"',
    });
    await a.addOrder({ number: 'ORD-cancel', amount: 1000 });
    await a.cancelOrder('ORD-cancel');
    await a.addOrder({ number: 'ORD-paid', amount: 2000 });
  });
  afterAll(() => t.close());

  it('when check names an active account, then 0 with the masked name and balance in fields', async () => {
    const r = await check(t.api(), '1001', 'A-1');
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/xml; charset=utf-8');
    expect(r.xml).toEqual({
      txn_id: '1001',
      result: '0',
      fields: {
        field1: { '@name': 'fio', '#text': 'I*** P.' },
        field2: { '@name': 'balance', '#text': '1500.00' },
      },
      comment: 'OK',
    });
    expect(r.xml.prv_txn).toBeUndefined();
  });

  it('when check names an unknown or closed account, then 1, and nothing but the request log is written', async () => {
    for (const account of ['nobody', 'A-closed']) {
      const r = await check(t.api(), '1002', account);
      expect(r.xml.result).toBe('1');
      expect(r.xml.comment).toBe('Account not found');
    }
    expect(await paymentsFor(t.gateway, '1002')).toHaveLength(0);
  });

  it('when pay names an account, then 0 with prv_txn and sum, and the balance grows once', async () => {
    const txn = newTxnId();
    const r = await pay(t.api(), txn, 'A-1', '200.00');
    expect(r.xml).toEqual({
      txn_id: txn,
      prv_txn: expect.stringMatching(/^\d{1,20}$/),
      sum: '200.00',
      result: '0',
      comment: 'OK',
    });
    expect(await balanceOf(t.gateway, 'A-1')).toBe(150000 + 20000);
    const [row] = await paymentsFor(t.gateway, txn);
    expect(row.state).toBe('credited');
    expect(String(row.id)).toBe(r.xml.prv_txn);
    expect(await creditsFor(t.gateway, txn)).toHaveLength(1);
  });

  it('when pay names an unknown or closed account, then 1, recorded as failed, and a repeat gets the same 1', async () => {
    for (const account of ['nobody', 'A-closed']) {
      const txn = newTxnId();
      const first = await pay(t.api(), txn, account, '10.00');
      expect(first.xml.result).toBe('1');
      const again = await pay(t.api(), txn, account, '10.00');
      expect(again.xml).toEqual(first.xml);
      const [row] = await paymentsFor(t.gateway, txn);
      expect(row.state).toBe('failed');
      expect(await creditsFor(t.gateway, txn)).toHaveLength(0);
    }
  });

  describe('order mode', () => {
    it('when check names an open order, then 0 with the amount due; cancelled 2; paid 3', async () => {
      const open = await check(t.api(), '2001', 'ORD-open');
      expect(open.xml.result).toBe('0');
      expect(open.xml.fields?.field1).toEqual({ '@name': 'order', '#text': 'Invoice <1> & "2"' });
      expect(open.xml.fields?.field2).toEqual({ '@name': 'amount', '#text': '4500.00' });
      expect((await check(t.api(), '2002', 'ORD-cancel')).xml.result).toBe('2');
    });

    it('when pay does not match the amount due, then 5 and the order stays open', async () => {
      const r = await pay(t.api(), newTxnId(), 'ORD-open', '4499.99');
      expect(r.xml.result).toBe('5');
      expect(r.xml.comment).toBe('Sum does not match the amount due');
      expect((await t.gateway.stores.accounts.getOrder('ORD-open'))?.status).toBe('open');
    });

    it('when pay matches, then 0; another txn_id for the paid order gets 3; its own repeat gets 0 again', async () => {
      const txn = newTxnId();
      const r = await pay(t.api(), txn, 'ORD-paid', '20.00');
      expect(r.xml.result).toBe('0');
      const order = await t.gateway.stores.accounts.getOrder('ORD-paid');
      expect(order).toMatchObject({ status: 'paid', paidTxnId: txn });
      const other = await pay(t.api(), newTxnId(), 'ORD-paid', '20.00');
      expect(other.xml.result).toBe('3');
      expect((await check(t.api(), '2003', 'ORD-paid')).xml.result).toBe('3');
      expect((await pay(t.api(), txn, 'ORD-paid', '20.00')).xml).toEqual(r.xml);
    });

    it('when pay names a cancelled order, then 2', async () => {
      expect((await pay(t.api(), newTxnId(), 'ORD-cancel', '10.00')).xml.result).toBe('2');
    });

    it('when partial payment is allowed, then a smaller sum is taken and the order stays open for the rest', async () => {
      const t2 = await startTestGateway(kind, { ORDER_ALLOW_PARTIAL: true });
      try {
        await t2.gateway.stores.accounts.addOrder({ number: 'P-1', amount: 10000 });
        expect((await pay(t2.api(), newTxnId(), 'P-1', '40.00')).xml.result).toBe('0');
        expect(await t2.gateway.stores.accounts.getOrder('P-1')).toMatchObject({
          status: 'open',
          paidAmount: 4000,
        });
        expect((await pay(t2.api(), newTxnId(), 'P-1', '60.01')).xml.result).toBe('5');
        expect((await pay(t2.api(), newTxnId(), 'P-1', '60.00')).xml.result).toBe('0');
        expect(await t2.gateway.stores.accounts.getOrder('P-1')).toMatchObject({
          status: 'paid',
          paidAmount: 10000,
        });
      } finally {
        await t2.close();
      }
    });
  });

  it('when a stored payment is not final yet, then its repeat gets 4 with the same prv_txn', async () => {
    const txn = newTxnId();
    const id = await t.gateway.stores.payments.insert(undefined, {
      source: 'kaspi',
      txnId: txn,
      account: 'A-1',
      amount: 5000,
      state: 'pending',
    });
    const r = await pay(t.api(), txn, 'A-1', '50.00');
    expect(r.xml).toMatchObject({ result: '4', prv_txn: id, sum: '50.00' });
    await t.gateway.stores.payments.transition(undefined, id, ['pending'], {
      state: 'credited',
      result: 0,
      comment: 'OK',
    });
    expect((await pay(t.api(), txn, 'A-1', '50.00')).xml).toMatchObject({ result: '0', prv_txn: id });
  });

  it('when a txn_id is repeated with another account or sum, then 5 and nothing changes', async () => {
    const txn = newTxnId();
    const first = await pay(t.api(), txn, 'A-1', '10.00');
    const balance = await balanceOf(t.gateway, 'A-1');
    for (const [account, sum] of [
      ['A-1', '10.01'],
      ['<a&b>', '10.00'],
    ] as const) {
      const r = await pay(t.api(), txn, account, sum);
      expect(r.xml.result).toBe('5');
      expect(r.xml.comment).toBe('txn_id already used with other parameters');
      expect(r.xml.prv_txn).toBeUndefined();
    }
    expect(await balanceOf(t.gateway, 'A-1')).toBe(balance);
    expect(await paymentsFor(t.gateway, txn)).toHaveLength(1);
    expect((await pay(t.api(), txn, 'A-1', '10.00')).xml).toEqual(first.xml);
  });

  it('when values hold XML specials, then they come back escaped and parse to the original text', async () => {
    const r = await check(t.api(), '3001', '<a&b>');
    expect(r.text).toContain('<field1 name="fio">T*** &quot;. &lt;. &amp;. C.</field1>');
    expect(r.xml.fields?.field1?.['#text']).toBe('T*** ". <. &. C.');
    const order = await check(t.api(), '3002', 'ORD-open');
    expect(order.text).toContain('Invoice &lt;1&gt; &amp; &quot;2&quot;');
    const p = await kaspi(t.api(), {
      command: 'pay',
      txn_id: newTxnId(),
      account: '<a&b>',
      sum: '1.00',
      txn_date: '20261123141500',
    });
    expect(p.xml.result).toBe('0');
  });

  it('when the answer carries Cyrillic, then it is UTF-8 and declared so', async () => {
    await t.gateway.stores.accounts.addAccount({ account: 'KZ-1', name: 'Айгуль Нурланова', balance: 0 });
    const res = await t.api().get('/payment_app.cgi?command=check&txn_id=1&account=KZ-1&sum=1');
    expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(res.text.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(Buffer.from(res.text, 'utf8').toString('utf8')).toContain('А*** Н.');
  });

  it('when a path is unknown, then a bare 404 and no HTML', async () => {
    for (const path of ['/', '/payment_app', '/admin', '/healthz']) {
      const res = await t.api().get(path);
      expect(res.status).toBe(404);
      expect(res.text).not.toMatch(/<html|<pre|Error:/i);
    }
    const post = await t.api().post('/payment_app.cgi').send('x=1');
    expect(post.status).toBe(404);
  });
});
