import fc from 'fast-check';
import { callbackFields, PROJECT_ID, Raw, type Value } from '../support/jetpay.js';

/**
 * JetPay bodies for property-based tests: the fuzzing through HTTP (jetpay-body.fuzz.test.ts) and
 * the comparison of our signature with the official SDK's (test/jetpay/ecommpay-sdk.test.ts).
 */
export const CUSTOMER = '7200000001';

const bigDigits = fc.stringMatching(/^-?[0-9]{1,40}$/).map((s) => new Raw(s));
export const anyNumber = fc.oneof(
  bigDigits,
  fc
    .constantFrom('0', '-0', '1.5', '1e3', '1E-7', '100.00', '9007199254740993', '1e400')
    .map((s) => new Raw(s)),
  fc.integer(),
);
export const anyScalar: fc.Arbitrary<Value> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  anyNumber,
  fc.boolean(),
  fc.constant(null),
);
export const anyValue: fc.Arbitrary<Value> = fc.oneof(
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

export const requestFields = fc
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

export const callbackBody = fc
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
