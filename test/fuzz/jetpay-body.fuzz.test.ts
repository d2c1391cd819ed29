import fc from 'fast-check';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import {
  callbackFields,
  captureLogs,
  depositFields,
  JETPAY_CONFIG,
  jsonText,
  PROJECT_ID,
  Raw,
  signedText,
  type Value,
} from '../support/jetpay.js';
import { count } from '../support/ledger.js';
import { fuzzClient } from './fuzz-http.js';

/**
 * Property-based fuzzing of JetPay's bodies through the real HTTP app. Junk (unreadable, unsigned,
 * wrongly signed) gets JSON code 400 and changes nothing; a correctly signed body with random
 * fields gets one of the protocol's codes, never an HTTP 500, and stores a payment only when it is
 * a check_deposit answered 0. No callback with an unknown payment id credits anything.
 */
const BATCH = 25;
const share = (n: number) => Math.ceil(n / BATCH / dbKinds.length);
const CUSTOMER = '7200000001';

const send = (client: ReturnType<typeof fuzzClient>, path: string, body: string | Buffer, type?: string) =>
  client.send(path, {
    method: 'POST',
    body: body as string,
    headers: {
      'Content-Type': type ?? 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
    },
  });

interface Reply {
  status: number;
  code: number;
  body: Record<string, unknown>;
}

/** A JetPay answer as JetPay would read it; throws with the text when it is not one. */
function readReply(res: { status: number; type: string; body: string }): Reply {
  if (res.status !== 200 && res.status !== 413)
    throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  if (!res.type.startsWith('application/json'))
    throw new Error(`content type ${res.type}: ${res.body.slice(0, 300)}`);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  if (![0, 400, 404, 500].includes(body.code as number)) throw new Error(`code ${String(body.code)}`);
  if (typeof body.message === 'string' && /\bat .+:\d+|select |insert |stack|Error:/i.test(body.message))
    throw new Error(`leaky message: ${body.message}`);
  return { status: res.status, code: body.code as number, body };
}

const bigDigits = fc.stringMatching(/^-?[0-9]{1,40}$/).map((s) => new Raw(s));
const anyNumber = fc.oneof(
  bigDigits,
  fc
    .constantFrom('0', '-0', '1.5', '1e3', '1E-7', '100.00', '9007199254740993', '1e400')
    .map((s) => new Raw(s)),
  fc.integer(),
);
const anyScalar: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  anyNumber,
  fc.boolean(),
  fc.constant(null),
);
const anyValue: fc.Arbitrary<Value> = fc.oneof(
  { weight: 4, arbitrary: anyScalar },
  { weight: 1, arbitrary: fc.array(anyScalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), anyScalar, { maxKeys: 3 }) },
);
/** Mostly the expected value, sometimes a near miss, now and then anything, or missing. */
const field = (primary: Value, nearMisses: Value[] = []) =>
  fc.option(
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(primary) },
      { weight: 2, arbitrary: nearMisses.length ? fc.constantFrom(...nearMisses) : fc.constant(primary) },
      { weight: 1, arbitrary: anyValue },
    ),
    { nil: undefined, freq: 12 },
  );

const compact = (o: Record<string, Value | undefined>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, Value>;

const requestFields = fc
  .record({
    type: field('check_deposit', ['verify', 'VERIFY', 'refund', '']),
    project_id: field(new Raw(PROJECT_ID), [new Raw('1234'), PROJECT_ID]),
    customer_id: field(CUSTOMER, ['7200000009', '', ' 7200000001', new Raw(CUSTOMER)]),
    entity_id: field(CUSTOMER, ['12345']),
    amount: fc.option(
      fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 5_000_000 }).map((n) => new Raw(String(n))) },
        { weight: 3, arbitrary: anyNumber },
        { weight: 1, arbitrary: anyValue },
      ),
      { nil: undefined, freq: 12 },
    ),
    currency: field('KZT', ['kzt', 'USD']),
    payment_method: field('terminal/kaspi'),
  })
  .map(compact);

const unknownPaymentId = fc.oneof(
  fc.stringMatching(/^9[0-9]{17}$/),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '0', '-1', '1e18', '٣'),
);

const callbackBody = fc
  .record({
    id: unknownPaymentId,
    status: fc.oneof(fc.constantFrom('success', 'decline'), fc.string({ maxLength: 8 })),
    amount: anyNumber,
    drop: fc.subarray(['project_id', 'payment', 'operation', 'customer']),
  })
  .map(({ id, status, amount, drop }) => {
    const f = callbackFields(id, status, amount);
    for (const k of drop) delete f[k];
    return f;
  });

/** Bodies no one signed: bytes, any JSON, our shapes unsigned or with a wrong signature, cut short. */
const junkBody: fc.Arbitrary<{ body: string | Buffer; type?: string }> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ body: Buffer.from(b) })),
  fc.json({ maxDepth: 3 }).map((body) => ({ body })),
  fc.string({ unit: 'binary', maxLength: 60 }).map((body) => ({ body })),
  requestFields.map((f) => ({ body: jsonText(f) })),
  requestFields.map((f) => ({ body: jsonText({ ...f, signature: 'AAAA' }) })),
  fc.tuple(requestFields, fc.nat()).map(([f, n]) => {
    const t = signedText(f);
    return { body: t.slice(0, n % Math.max(1, t.length - 1)) };
  }),
  fc.tuple(requestFields, fc.integer({ min: 0, max: 80 })).map(([f, i]) => {
    // one character of the signature changed: the body is otherwise perfect
    const t = signedText(f);
    const at = t.lastIndexOf('"signature":"') + 13 + (i % 80);
    const c = t[at] === 'A' ? 'B' : 'A';
    return { body: t.slice(0, at) + c + t.slice(at + 1) };
  }),
  callbackBody.map((f) => ({ body: jsonText(f) })),
  fc
    .constantFrom(
      '',
      'null',
      '[]',
      '{}',
      '{"type":"verify"',
      '{"type":"verify","type":"check_deposit"}',
      '{"__proto__":{"code":0}}',
      '{"constructor":{"prototype":{"x":1}}}',
      '['.repeat(5000),
      `{"a":${'['.repeat(3000)}`,
      '{"amount":1e999999}',
      '\uFEFF{}',
    )
    .map((body) => ({ body })),
  fc
    .tuple(
      requestFields,
      fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', ''),
    )
    .map(([f, type]) => ({ body: jsonText(f), type })),
);

describe.each(dbKinds)('[%s] fuzzing JetPay bodies', (kind) => {
  let t: TestGateway;
  let client: ReturnType<typeof fuzzClient>;
  const snapshot = async () => ({
    payments: await count(t.gateway, 'payments'),
    ledger: await count(t.gateway, 'account_ledger'),
  });

  beforeAll(async () => {
    captureLogs(); // expected refusals log WARNs
    t = await startTestGateway(kind, { ...JETPAY_CONFIG, PAY_MIN_SUM: '1.00', PAY_MAX_SUM: '50000.00' });
    await t.gateway.stores.accounts.addAccount({ account: CUSTOMER, name: 'Fuzz Payer', balance: 0 });
    const { port } = await t.gateway.start();
    client = fuzzClient(port);
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it('when junk reaches /jetpay or /jetpay/callback, then JSON code 400, never an HTTP 500, nothing written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(junkBody, fc.constantFrom('/jetpay', '/jetpay/callback')), {
          minLength: BATCH,
          maxLength: BATCH,
        }),
        async (inputs) => {
          const before = await snapshot();
          const replies = await Promise.all(
            inputs.map(async ([b, path]) => ({
              path,
              b,
              r: readReply(await send(client, path, b.body, b.type)),
            })),
          );
          for (const { b, r } of replies)
            expect({ body: String(b.body).slice(0, 200), code: r.code }).toEqual({
              body: String(b.body).slice(0, 200),
              code: 400,
            });
          expect(await snapshot()).toEqual(before);
        },
      ),
      { numRuns: share(3000) },
    );
  }, 600_000);

  it('when a body over 64 kB comes, then HTTP 413 with JSON code 400 and nothing written', async () => {
    const before = await snapshot();
    for (const path of ['/jetpay', '/jetpay/callback']) {
      const r = readReply(await send(client, path, `{"type":"verify","pad":"${'x'.repeat(70_000)}"}`));
      expect([r.status, r.code]).toEqual([413, 400]);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('when signed requests carry random fields, then a protocol code, and a payment only for a check_deposit answered 0', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(requestFields, { minLength: BATCH, maxLength: BATCH }), async (all) => {
        const before = await snapshot();
        const replies = await Promise.all(
          all.map(async (f) => ({ f, r: readReply(await send(client, '/jetpay', signedText(f))) })),
        );
        let stored = 0;
        for (const { f, r } of replies) {
          seen.add(`${typeof f.type === 'string' ? f.type : 'other'}:${r.code}`);
          const amount = f.amount === undefined ? undefined : jsonText(f.amount);
          if (r.code !== 0) continue;
          expect(f.type === 'verify' || f.type === 'check_deposit').toBe(true);
          if (f.type === 'check_deposit') {
            // a deposit accepted is a positive whole number of tiyn, in KZT, for this customer (its id as
            // a JSON string or number: both keep their digits)
            expect({
              amount,
              currency: f.currency,
              customer: jsonText(f.customer_id ?? null).replace(/"/g, ''),
            }).toEqual({
              amount: expect.stringMatching(/^[1-9]\d*$/),
              currency: 'KZT',
              customer: CUSTOMER,
            });
            expect(r.body.payment_id).toEqual(expect.stringMatching(/^\d{1,20}$/));
            stored++;
          }
        }
        const after = await snapshot();
        expect(after).toEqual({ payments: before.payments + stored, ledger: before.ledger });
      }),
      { numRuns: share(2000) },
    );
    // the generator reaches every outcome, or the property above proves little
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'verify:0',
        'check_deposit:0',
        'check_deposit:404',
        'check_deposit:500',
        'verify:400',
      ]),
    );
  }, 600_000);

  it('when signed callbacks name payments we never issued, then 400 or 404 and nothing credited', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callbackBody, { minLength: BATCH, maxLength: BATCH }), async (all) => {
        const before = await snapshot();
        const replies = await Promise.all(
          all.map(async (f) => readReply(await send(client, '/jetpay/callback', signedText(f)))),
        );
        for (const r of replies) expect([400, 404]).toContain(r.code);
        expect(await snapshot()).toEqual(before);
      }),
      { numRuns: share(1000) },
    );
  }, 600_000);

  it('when a real deposit is followed by fuzzed callbacks of other ids, then it is still credited once by its own', async () => {
    const dep = await send(client, '/jetpay', signedText(depositFields(CUSTOMER, CUSTOMER, new Raw('2500'))));
    const id = String(readReply(dep).body.payment_id);
    const noise = fc.sample(callbackBody, 50).map((f) => send(client, '/jetpay/callback', signedText(f)));
    const own = Array.from({ length: 5 }, () =>
      send(client, '/jetpay/callback', signedText(callbackFields(id, 'success', new Raw('2500')))),
    );
    const answers = await Promise.all([...noise, ...own]);
    for (const a of answers.slice(-5)) expect(readReply(a).code).toBe(0);
    const credits = await t.gateway.db
      .knex('account_ledger')
      .join('payments', 'payments.id', 'account_ledger.payment_id')
      .where({ 'payments.txn_id': id, 'account_ledger.kind': 'credit' });
    expect(credits).toHaveLength(1);
  });
});
