import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kaspi, newTxnId, TXN_DATE } from '../support/kaspi.js';
import { count } from '../support/ledger.js';

const ACCOUNT = '7771234567';

describe.each(dbKinds)('[%s] Kaspi request validation', (kind) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(kind, { ACCOUNT_REGEX: '^[0-9A-Za-z<>&_-]{1,200}$' });
    await t.gateway.stores.accounts.addAccount({ account: ACCOUNT, name: 'Ivan Petrov', balance: 0 });
  });
  afterAll(() => t.close());

  async function expectNothingStored<T>(fn: () => Promise<T>): Promise<T> {
    const before = [await count(t.gateway, 'payments'), await count(t.gateway, 'account_ledger')];
    const out = await fn();
    expect([await count(t.gateway, 'payments'), await count(t.gateway, 'account_ledger')]).toEqual(before);
    return out;
  }

  const raw = (query: string) => t.api().get(`/payment_app.cgi?${query}`);
  const payParams = (over: Record<string, string | undefined>) => {
    const p: Record<string, string> = {};
    const base: Record<string, string | undefined> = {
      command: 'pay',
      txn_id: newTxnId(),
      account: ACCOUNT,
      sum: '100.00',
      txn_date: TXN_DATE,
      ...over,
    };
    for (const [k, v] of Object.entries(base)) if (v !== undefined) p[k] = v;
    return p;
  };

  describe('when a parameter is repeated or structured, then result 5 and nothing stored', () => {
    it.each([
      ['repeated txn_id', `command=pay&txn_id=11&txn_id=12&account=${ACCOUNT}&sum=1.00&txn_date=${TXN_DATE}`],
      [
        'repeated command',
        `command=pay&command=check&txn_id=11&account=${ACCOUNT}&sum=1.00&txn_date=${TXN_DATE}`,
      ],
      ['bracket key', `command=pay&txn_id[a]=11&account=${ACCOUNT}&sum=1.00&txn_date=${TXN_DATE}`],
      ['bracket account', `command=pay&txn_id=11&account[]=${ACCOUNT}&sum=1.00&txn_date=${TXN_DATE}`],
    ])('%s', async (_name, query) => {
      const res = await expectNothingStored(() => raw(query));
      expect(res.status).toBe(200);
      expect(res.text).toContain('<result>5</result>');
      expect(res.text).toMatch(/Malformed/);
    });
  });

  describe('command', () => {
    it.each([['refund'], [''], ['PAY']])(
      'when command is %p, then result 5 "Unknown command"',
      async (command) => {
        const r = await expectNothingStored(() => kaspi(t.api(), payParams({ command })));
        expect(r.xml.result).toBe('5');
        expect(r.xml.comment).toBe('Unknown command');
      },
    );
    it('when command is missing, then result 5', async () => {
      const r = await kaspi(t.api(), payParams({ command: undefined }));
      expect(r.xml.result).toBe('5');
    });
  });

  describe('txn_id', () => {
    it.each([['abc'], ['-1'], ['1.5'], ['1234567890123456789'], [''], [' 12'], ['1e5']])(
      'when txn_id is %p, then result 5 and nothing stored',
      async (txn_id) => {
        const r = await expectNothingStored(() => kaspi(t.api(), payParams({ txn_id })));
        expect(r.xml.result).toBe('5');
        expect(r.xml.comment).toBe('Invalid txn_id');
      },
    );
    it('when txn_id is missing, then result 5', async () => {
      const r = await kaspi(t.api(), payParams({ txn_id: undefined }));
      expect(r.xml.result).toBe('5');
    });
    it('when txn_id has 18 digits above 2^53, then every digit is kept in the answer and the row', async () => {
      const txn = '987654321987654321';
      const r = await kaspi(t.api(), payParams({ txn_id: txn }));
      expect(r.xml.result).toBe('0');
      expect(r.xml.txn_id).toBe(txn);
      const row = await t.gateway.db.knex('payments').where({ txn_id: txn }).first();
      expect(String(row.txn_id)).toBe(txn);
    });
  });

  describe('account', () => {
    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['201 characters', 'a'.repeat(201)],
      ['not matching ACCOUNT_REGEX', 'has space'],
    ])('when account is %s, then result 1 "Invalid account" and nothing stored', async (_n, account) => {
      const r = await expectNothingStored(() => kaspi(t.api(), payParams({ account })));
      expect(r.xml.result).toBe('1');
      expect(r.xml.comment).toBe('Invalid account');
    });
    it('when account is valid but unknown (200 characters), then result 1 "Account not found"', async () => {
      const r = await kaspi(t.api(), {
        command: 'check',
        txn_id: newTxnId(),
        account: 'a'.repeat(200),
        sum: '1.00',
      });
      expect(r.xml.result).toBe('1');
      expect(r.xml.comment).toBe('Account not found');
    });
  });

  describe('sum on pay', () => {
    it.each([
      ['-1.00'],
      ['+1.00'],
      ['1e3'],
      ['1,00'],
      ['200.123'],
      ['abc'],
      [' 200'],
      ['0x10'],
      ['.5'],
      ['200.'],
      [''],
    ])('when sum is %p, then result 5 and nothing stored', async (sum) => {
      const r = await expectNothingStored(() => kaspi(t.api(), payParams({ sum })));
      expect(r.xml.result).toBe('5');
    });
    it('when sum is missing, then result 5', async () => {
      const r = await expectNothingStored(() => kaspi(t.api(), payParams({ sum: undefined })));
      expect(r.xml.result).toBe('5');
    });
    it.each([
      ['200', 20000],
      ['200.5', 20050],
      ['200.05', 20005],
      ['0200.00', 20000],
    ])(
      'when sum is %p, then %i tiyn are credited and <sum> is written with two decimals',
      async (sum, tiyn) => {
        const txn = newTxnId();
        const r = await kaspi(t.api(), payParams({ txn_id: txn, sum }));
        expect(r.xml.result).toBe('0');
        expect(r.xml.sum).toBe((tiyn / 100).toFixed(2));
        const row = await t.gateway.db.knex('payments').where({ txn_id: txn }).first();
        expect(Number(row.amount)).toBe(tiyn);
      },
    );
    it('when sum is below PAY_MIN_SUM or above PAY_MAX_SUM, then result 5', async () => {
      for (const sum of ['0.99', '0', '10000000.01']) {
        const r = await expectNothingStored(() => kaspi(t.api(), payParams({ sum })));
        expect(r.xml.result).toBe('5');
        expect(r.xml.comment).toBe('Sum out of the allowed range');
      }
    });
  });

  describe('sum on check is nominal', () => {
    it.each([['abc'], ['-5'], [''], ['0']])(
      'when check carries sum %p, then it is still answered 0',
      async (sum) => {
        const r = await kaspi(t.api(), { command: 'check', txn_id: newTxnId(), account: ACCOUNT, sum });
        expect(r.xml.result).toBe('0');
      },
    );
  });

  describe('txn_date on pay', () => {
    it.each([
      ['20261331120000'],
      ['20260230120000'],
      ['20261123250000'],
      ['2026112314150'],
      ['abc'],
      ['20261123146000'],
      [''],
    ])('when txn_date is %p, then result 5 and nothing stored', async (txn_date) => {
      const r = await expectNothingStored(() => kaspi(t.api(), payParams({ txn_date })));
      expect(r.xml.result).toBe('5');
      expect(r.xml.comment).toBe('Invalid txn_date');
    });
    it('when txn_date is missing, then result 5', async () => {
      const r = await expectNothingStored(() => kaspi(t.api(), payParams({ txn_date: undefined })));
      expect(r.xml.result).toBe('5');
      expect(r.xml.comment).toBe('Missing txn_date');
    });
    it('when txn_date is valid, then it is stored as given and as the UTC instant (Kazakhstan +05:00)', async () => {
      const txn = newTxnId();
      await kaspi(t.api(), payParams({ txn_id: txn, txn_date: '20240229235959' }));
      const row = await t.gateway.db.knex('payments').where({ txn_id: txn }).first();
      expect(row.txn_date_raw).toBe('20240229235959');
      expect(String(row.txn_date)).toBe('2024-02-29 18:59:59.000');
    });
  });

  describe('extra fields', () => {
    it('when data1..dataN come with a pay, then they are stored with the payment and other params are only logged', async () => {
      const txn = newTxnId();
      const r = await kaspi(t.api(), payParams({ txn_id: txn, data1: 'Астана <1>', data2: 'x', foo: 'bar' }));
      expect(r.xml.result).toBe('0');
      const row = await t.gateway.db.knex('payments').where({ txn_id: txn }).first();
      expect(JSON.parse(row.extra)).toEqual({ data1: 'Астана <1>', data2: 'x' });
      await t.gateway.stores.requestLog.flush();
      const log = await t.gateway.db.knex('request_log').where({ txn_id: txn }).first();
      expect(log.request).toContain('foo=bar');
    });
  });
});
