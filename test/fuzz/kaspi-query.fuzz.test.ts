import fc from 'fast-check';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { count } from '../support/ledger.js';
import { fuzzClient, pct, readKaspiAnswer } from './fuzz-http.js';

/**
 * Property-based fuzzing of Kaspi's query string through the real HTTP app: a valid request is
 * built, then bent by up to three mutations. Whatever comes in, the answer is a well-formed XML
 * answer (never a 500, never a stack), and the database changes only for a pay that was valid.
 * BATCH inputs go out at once; 10,000 inputs in all (FUZZ_INPUTS), shared among the databases.
 * Raw bytes above 0x7F in a URL are refused by Node's HTTP parser itself with a bare 400.
 */
const BATCH = 50;
const TOTAL = Number(process.env.FUZZ_INPUTS ?? 10_000);
const RUNS = Math.ceil(TOTAL / BATCH / dbKinds.length);
/** Stands for the txn_id until the request goes out: a shrunk input must not replay a stored one. */
const TXN = 'TXNID';

const EXISTING = ['FZ-1', 'FZ-2', 'ФЗ-3'];
const REAL_KEYS = ['command', 'txn_id', 'account', 'sum', 'txn_date'] as const;
type Key = (typeof REAL_KEYS)[number];

/** Anything a query value may carry: unicode of every plane, raw bytes, stray % and +. */
const junkText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }).map(pct),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent),
  fc
    .uint8Array({ maxLength: 8 })
    .map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')),
  fc.constantFrom(
    '%',
    '%%',
    '%zz',
    '%E2%82',
    '%C0%AF',
    '+',
    '++',
    '=',
    '==',
    '%00',
    '%0A',
    '%FF%FE',
    'ÿ',
    'é',
    '#x',
  ),
  fc.stringMatching(/^[!$'()*,./:;@~0-9A-Za-z_-]{0,10}$/),
);

/** A key that can never decode to one of ours, nor carry a bracket. */
const junkKey = fc
  .tuple(fc.constantFrom('x', 'utm_', 'q', 'X-'), fc.string({ unit: 'grapheme', maxLength: 8 }))
  .map(([p, s]) => p + s)
  .filter((k) => !/[[\]]/.test(k))
  .map(encodeURIComponent);

const validSum = fc.oneof(
  fc.integer({ min: 1, max: 9_999_999 }).map(String),
  fc
    .tuple(fc.integer({ min: 1, max: 9_999_999 }), fc.integer({ min: 0, max: 9 }))
    .map(([a, b]) => `${a}.${b}`),
  fc
    .tuple(fc.integer({ min: 1, max: 9_999_999 }), fc.integer({ min: 0, max: 99 }))
    .map(([a, b]) => `${a}.${String(b).padStart(2, '0')}`),
);

const validDate = fc
  .date({ min: new Date('2001-01-01T00:00:00Z'), max: new Date('2098-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().replace(/\D/g, '').slice(0, 14));

/** Values that break a rule of the protocol, by key. The account ones break the default regex. */
const invalidValue: Record<Exclude<Key, 'account'>, fc.Arbitrary<string>> & {
  account: fc.Arbitrary<string>;
} = {
  command: fc.oneof(
    fc.constantFrom('', 'PAY', 'Check', 'refund', 'pay%20', 'pay%00', 'ch%65ck%20', '%70%61%79+'),
    junkKey,
  ),
  txn_id: fc.oneof(
    fc.constantFrom('', '-1', '1e5', '0x1F', '1234567890123456789', '12.0', '%201', '+1', '%EF%BC%91'),
    fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
      .filter((s) => !/^\d{1,18}$/.test(s))
      .map(pct),
  ),
  account: fc.oneof(
    fc.constant(''),
    fc.constant('A'.repeat(201)),
    fc.integer({ min: 0, max: 31 }).map((c) => `FZ-1%${c.toString(16).padStart(2, '0')}`),
  ),
  sum: fc.constantFrom(
    '',
    '-1.00',
    '+1.00',
    '1e3',
    '1,00',
    '1.000',
    '0.00',
    '0',
    '.5',
    'NaN',
    '100000000.00',
    '1.0.0',
    '%D9%A3',
    '1%2000',
  ),
  txn_date: fc.constantFrom(
    '',
    '20261323141500',
    '20260230120000',
    '2026112314150',
    '202611231415000',
    '19991231235959',
    'today',
  ),
};

interface Draft {
  pairs: [string, string][];
  command: 'pay' | 'check';
  /** a rule of the protocol is broken: nothing may be stored */
  broken: boolean;
  /** which rules, so a mutation that undoes another (removing a repeated key) clears its reason */
  reasons: string[];
  account: string;
}

type Mutation = (d: Draft) => fc.Arbitrary<Draft>;

/** The key as the server reads it, so added keys never repeat one already there. */
const decodeKey = (k: string) => [...new URLSearchParams(`${k}=`).keys()][0] ?? '';
const addFresh = (d: Draft, extra: [string, string][]): Draft => {
  const seen = new Set(d.pairs.map(([k]) => decodeKey(k)));
  const pairs = [...d.pairs];
  for (const [k, v] of extra) {
    const key = decodeKey(k);
    if (seen.has(key)) continue;
    seen.add(key);
    pairs.push([k, v]);
  }
  return { ...d, pairs };
};

const setValue = (d: Draft, key: Key, value: string): Draft => ({
  ...d,
  pairs: d.pairs.map(([k, v]) => [k, decodeKey(k) === key ? value : v]),
});

// Breaks only what the command checks: check ignores sum and txn_date.
const breaks = (d: Draft, key: Key) => d.command === 'pay' || (key !== 'sum' && key !== 'txn_date');

const has = (d: Draft, key: Key) => d.pairs.some(([k]) => decodeKey(k) === key);
const withReasons = (d: Draft, drop: string[], add: string[]): Draft => {
  const reasons = d.reasons
    .filter((r) => !drop.includes(r))
    .concat(add.filter((r) => !d.reasons.includes(r)));
  return { ...d, reasons, broken: reasons.length > 0 };
};

const mutations: Mutation[] = [
  // repeated key, same or other value (a missing one comes back twice)
  (d) =>
    fc.tuple(fc.constantFrom(...REAL_KEYS), fc.boolean()).map(([key, same]) => {
      const v = d.pairs.find(([k]) => decodeKey(k) === key)?.[1];
      const again: [string, string][] =
        v === undefined
          ? [
              [key, '1'],
              [key, '1'],
            ]
          : [[key, same ? v : `${v}0`]];
      return withReasons({ ...d, pairs: [...d.pairs, ...again] }, [`missing ${key}`], [`repeated ${key}`]);
    }),
  // a bracket key, alone or beside the plain one
  (d) =>
    fc
      .tuple(fc.constantFrom(...REAL_KEYS), fc.constantFrom('[]', '[a]', '%5B%5D', '[0][x]', ']'))
      .map(([key, b]) =>
        withReasons({ ...d, pairs: [...d.pairs, [`${key}${b}`, '1']] }, [], [`bracket ${key}${b}`]),
      ),
  // a value that breaks its rule
  (d) =>
    fc
      .constantFrom(...REAL_KEYS)
      .chain((key) =>
        invalidValue[key].map((v) =>
          withReasons(setValue(d, key, v), [], has(d, key) && breaks(d, key) ? [`invalid ${key}`] : []),
        ),
      ),
  // a required parameter missing (every copy of it)
  (d) =>
    fc
      .constantFrom(...REAL_KEYS)
      .map((key) =>
        withReasons(
          { ...d, pairs: d.pairs.filter(([k]) => decodeKey(k) !== key) },
          [`repeated ${key}`, `invalid ${key}`],
          breaks(d, key) ? [`missing ${key}`] : [],
        ),
      ),
  // harmless: an unknown parameter, data fields, another order, percent-encoded letters
  (d) => fc.array(fc.tuple(junkKey, junkText), { maxLength: 4 }).map((extra) => addFresh(d, extra)),
  (d) =>
    fc.array(fc.tuple(fc.integer({ min: 1, max: 999 }), junkText), { maxLength: 3 }).map((data) =>
      addFresh(
        d,
        data.map(([i, v]) => [`data${i}`, v]),
      ),
    ),
  (d) => fc.shuffledSubarray(d.pairs, { minLength: d.pairs.length }).map((pairs) => ({ ...d, pairs })),
  (d) => fc.constant({ ...d, pairs: d.pairs.map(([k, v]): [string, string] => [pct(decodeKey(k)), v]) }),
];

let seq = 0;
const nextTxnId = () =>
  `${process.pid % 1000}${Date.now() % 1e9}${String(++seq).padStart(6, '0')}`.slice(-18);

/** The query as sent, with a fresh txn_id; rawBytes: Node's parser answers it, not the app. */
function materialise(d: Draft): { query: string; txnId: string; rawBytes: boolean } {
  const txnId = nextTxnId();
  const query = d.pairs.map(([k, v]) => `${k}=${v.split(TXN).join(txnId)}`).join('&');
  return { query, txnId, rawBytes: /[\u0080-\u00ff]/.test(query) };
}

const draft: fc.Arbitrary<Draft> = fc
  .record({
    command: fc.constantFrom<'pay' | 'check'>('pay', 'check'),
    account: fc.oneof(
      fc.constantFrom(...EXISTING),
      fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
        // The default ACCOUNT_REGEX refuses control characters; those are the invalid-account mutation's.
        // eslint-disable-next-line no-control-regex
        .filter((s) => !/[\u0000-\u001f]/.test(s) && Array.from(s).length <= 200),
    ),
    sum: validSum,
    txnDate: validDate,
  })
  .map(({ command, account, sum, txnDate }) => {
    const pairs: [string, string][] = [
      ['command', command],
      ['txn_id', TXN],
      ['account', pct(account)],
      ['sum', sum],
      ['txn_date', txnDate],
    ];
    return { pairs, command, broken: false, reasons: [], account };
  })
  .chain((d) =>
    fc
      .array(fc.constantFrom(...mutations), { maxLength: 3 })
      .chain((ms) => ms.reduce<fc.Arbitrary<Draft>>((acc, m) => acc.chain(m), fc.constant(d))),
  );

describe.each(dbKinds)('[%s] fuzzing the Kaspi query', (kind) => {
  let t: TestGateway;
  let client: ReturnType<typeof fuzzClient>;
  let inputs = 0;

  beforeAll(async () => {
    t = await startTestGateway(kind, { DB_POOL_MAX: 8 });
    for (const account of EXISTING)
      await t.gateway.stores.accounts.addAccount({ account, name: 'Fuzz Payer' });
    const { port } = await t.gateway.start();
    client = fuzzClient(port);
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it(`when ${RUNS} batches of ${BATCH} bent queries come in, then every answer is well-formed XML and only valid pays are stored`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(draft, { minLength: BATCH, maxLength: BATCH }), async (drafts) => {
        const before = {
          payments: await count(t.gateway, 'payments'),
          ledger: await count(t.gateway, 'account_ledger'),
        };
        const answers = await Promise.all(
          drafts.map(async (d) => {
            const m = materialise(d);
            const res = await client.send(`/payment_app.cgi?${m.query}`);
            if (m.rawBytes) {
              expect([res.status, res.body]).toEqual([400, '']);
              return null;
            }
            return { d, txnId: m.txnId, query: m.query, a: readKaspiAnswer(res) };
          }),
        );
        inputs += drafts.length;
        const expected: string[] = [];
        let credits = 0;
        for (const answer of answers) {
          if (!answer) continue;
          const { d, a, query } = answer;
          if (d.broken) {
            expect({ query, result: a.result }).toEqual({ query, result: expect.stringMatching(/^[15]$/) });
            continue;
          }
          const known = EXISTING.includes(d.account);
          expect({ query, txnId: a.txn_id, result: a.result }).toEqual({
            query,
            txnId: answer.txnId,
            result: known ? '0' : '1',
          });
          if (d.command === 'pay') {
            expect(a.prv_txn).toMatch(/^\d{1,20}$/);
            expected.push(answer.txnId);
            if (known) credits++;
          }
        }
        // Stored: exactly the valid pays of this batch, whatever else came with them.
        const sent = answers.filter((x) => x !== null).map((x) => x.txnId);
        const stored = (await t.gateway.db.knex('payments').whereIn('txn_id', sent).select('txn_id')).map(
          (r) => String(r.txn_id),
        );
        const strays = stored.filter((id) => !expected.includes(id));
        expect(strays.map((id) => answers.find((x) => x?.txnId === id)?.query)).toEqual([]);
        expect(stored.sort()).toEqual(expected.sort());
        expect(await count(t.gateway, 'payments')).toBe(before.payments + expected.length);
        expect(await count(t.gateway, 'account_ledger')).toBe(before.ledger + credits);
      }),
      { numRuns: RUNS },
    );
    expect(inputs).toBeGreaterThanOrEqual(RUNS * BATCH);
  }, 600_000);

  it("when a path other than Kaspi's is asked, then a bare 404 and nothing stored", async () => {
    const before = await count(t.gateway, 'payments');
    await fc.assert(
      fc.asyncProperty(fc.array(junkText, { minLength: 1, maxLength: 3 }), junkText, async (segments, q) => {
        const path = `/${segments.join('/')}`;
        if (path === '/payment_app.cgi' || path === '/payment_app.cgi/') return;
        const res = await client.send(`${path}?command=pay&${q}`);
        if (/[\u0080-\u00ff]/.test(path + q)) {
          expect([res.status, res.body]).toEqual([400, '']);
          return;
        }
        expect(res.status).toBe(404);
        expect(res.type).toMatch(/^text\/plain/);
        expect(res.body).toBe('Not Found');
      }),
      { numRuns: 300 },
    );
    expect(await count(t.gateway, 'payments')).toBe(before);
  });
});

describe('[sqlite] fuzzing the Kaspi query from outside the allowlist', () => {
  it('when any query comes from an address not allowed, then a bare 403 and nothing stored', async () => {
    const t = await startTestGateway('sqlite', { KASPI_ALLOWED_IPS: '194.187.247.152/32' });
    const { port } = await t.gateway.start();
    const client = fuzzClient(port);
    try {
      await fc.assert(
        fc.asyncProperty(draft, async (d) => {
          const m = materialise(d);
          const res = await client.send(`/payment_app.cgi?${m.query}`, {
            headers: { 'X-Forwarded-For': '194.187.247.152' },
          });
          expect([res.status, res.body]).toEqual(m.rawBytes ? [400, ''] : [403, 'Forbidden']);
        }),
        { numRuns: 300 },
      );
      expect(await count(t.gateway, 'payments')).toBe(0);
    } finally {
      client.close();
      await t.close();
    }
  });
});
