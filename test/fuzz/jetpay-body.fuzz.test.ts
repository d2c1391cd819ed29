import fc from 'fast-check';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import {
  callbackFields,
  captureLogs,
  depositFields,
  JETPAY_CONFIG,
  jsonText,
  Raw,
  signedText,
} from '../support/jetpay.js';
import { count } from '../support/ledger.js';
import { fuzzClient } from './fuzz-http.js';
import { callbackBody, CUSTOMER, requestFields } from './jetpay-arbitraries.js';

/**
 * Property-based fuzzing of JetPay's bodies through the real HTTP app. Junk (unreadable, unsigned,
 * wrongly signed) gets JSON code 400 and changes nothing; a correctly signed body with random
 * fields gets one of the protocol's codes, never an unforeseen failure, and stores a payment only
 * when it is a check_deposit answered 0. No callback with an unknown payment id credits anything.
 * The HTTP status is the protocol's: 200 on /jetpay whatever the code, the code itself on
 * /jetpay/callback (0 → 200), 413 for a body over the limit.
 */
const BATCH = 25;
const share = (n: number) => Math.ceil(n / BATCH / dbKinds.length);

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
function readReply(path: string, res: { status: number; type: string; body: string }): Reply {
  if (!res.type.startsWith('application/json'))
    throw new Error(`HTTP ${res.status}, content type ${res.type}: ${res.body.slice(0, 300)}`);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  if (![0, 400, 404, 500].includes(body.code as number)) throw new Error(`code ${String(body.code)}`);
  const code = body.code as number;
  const status = res.status === 413 && code === 400 ? 413 : path === '/jetpay' || code === 0 ? 200 : code;
  if (res.status !== status)
    throw new Error(`HTTP ${res.status} for code ${code} on ${path}: ${res.body.slice(0, 300)}`);
  if (typeof body.message === 'string' && /\bat .+:\d+|select |insert |stack|Error:/i.test(body.message))
    throw new Error(`leaky message: ${body.message}`);
  return { status: res.status, code: body.code as number, body };
}

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

  it('when junk reaches /jetpay or /jetpay/callback, then JSON code 400 (HTTP 400 on the callback), never a 500, nothing written', async () => {
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
              r: readReply(path, await send(client, path, b.body, b.type)),
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
      const r = readReply(path, await send(client, path, `{"type":"verify","pad":"${'x'.repeat(70_000)}"}`));
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
          all.map(async (f) => ({
            f,
            r: readReply('/jetpay', await send(client, '/jetpay', signedText(f))),
          })),
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
          all.map(async (f) =>
            readReply('/jetpay/callback', await send(client, '/jetpay/callback', signedText(f))),
          ),
        );
        for (const r of replies) expect([400, 404]).toContain(r.code);
        expect(await snapshot()).toEqual(before);
      }),
      { numRuns: share(1000) },
    );
  }, 600_000);

  it('when a real deposit is followed by fuzzed callbacks of other ids, then it is still credited once by its own', async () => {
    const dep = await send(client, '/jetpay', signedText(depositFields(CUSTOMER, CUSTOMER, new Raw('2500'))));
    const id = String(readReply('/jetpay', dep).body.payment_id);
    const noise = fc.sample(callbackBody, 50).map((f) => send(client, '/jetpay/callback', signedText(f)));
    const own = Array.from({ length: 5 }, () =>
      send(client, '/jetpay/callback', signedText(callbackFields(id, 'success', new Raw('2500')))),
    );
    const answers = await Promise.all([...noise, ...own]);
    for (const a of answers.slice(-5)) expect(readReply('/jetpay/callback', a).code).toBe(0);
    const credits = await t.gateway.db
      .knex('account_ledger')
      .join('payments', 'payments.id', 'account_ledger.payment_id')
      .where({ 'payments.txn_id': id, 'account_ledger.kind': 'credit' });
    expect(credits).toHaveLength(1);
  });
});
