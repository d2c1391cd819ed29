import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import type supertest from 'supertest';
import type {
  BillingEntity,
  CreditOutcome,
  CreditRequest,
  EmbeddedBilling,
  Lookup,
} from '../../src/billing/billing.js';
import { SqlBilling } from '../../src/billing/sql-billing.js';
import { configureLogger } from '../../src/log/logger.js';
import type { Overrides } from '../../src/wiring/wiring.js';

export const PROJECT_ID = '4321';
export const SECRET = 'jetpay-test-secret-7f3a';
export const JETPAY_CONFIG = { JETPAY_PROJECT_ID: PROJECT_ID, JETPAY_SECRET: SECRET };

/** Plain JSON: what both the code under test and the tests' signers accept. */
export type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

/** One of the published signature vectors (test/fixtures, copied from the spec). */
export interface SignatureVector {
  source: string;
  secret: string;
  params: { [key: string]: Plain };
  string_to_sign: string;
  signature: string;
}

export const signatureVectors = JSON.parse(
  fs.readFileSync(new URL('../fixtures/jetpay-signature-vectors.json', import.meta.url), 'utf8'),
) as SignatureVector[];

/** A JSON number written exactly as given: `new Raw('123456789012345678901')` keeps its 21 digits. */
export class Raw {
  constructor(readonly text: string) {}
}

export type Value = string | number | boolean | null | Raw | Value[] | { [key: string]: Value };

/**
 * The Gate signature written again from the spec, independently of src/jetpay: the code under
 * test is checked against this and against the published vectors, never against itself.
 */
type Part = string | number;

function leaves(v: Value, parts: Part[], out: { parts: Part[]; text: string }[]): void {
  if (v instanceof Raw) out.push({ parts, text: v.text });
  else if (Array.isArray(v)) v.forEach((x, i) => leaves(x, [...parts, i], out));
  else if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      if (k !== 'signature' && k !== 'frame_mode') leaves(v[k] as Value, [...parts, k], out);
    }
  } else out.push({ parts, text: v === true ? '1' : v === false ? '0' : v === null ? '' : String(v) });
}

const escapePart = (p: Part) => (typeof p === 'number' ? String(p) : p.split(':').join('::'));
const pathOf = (parts: Part[]) => parts.map(escapePart).join(':');

/** Byte order of the joined paths, except that two array indexes meeting compare as numbers. */
function comparePaths(a: Part[], b: Part[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as Part;
    const y = b[i] as Part;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return Buffer.compare(Buffer.from(pathOf(a.slice(i))), Buffer.from(pathOf(b.slice(i))));
  }
  return a.length - b.length;
}

export function gateStringToSign(params: Value): string {
  const out: { parts: Part[]; text: string }[] = [];
  leaves(params, [], out);
  out.sort((l, r) => comparePaths(l.parts, r.parts));
  return out.map((l) => `${pathOf(l.parts)}:${l.text}`).join(';');
}

export function gateSignature(params: Value, secret = SECRET): string {
  return createHmac('sha512', Buffer.from(secret, 'utf8'))
    .update(Buffer.from(gateStringToSign(params), 'utf8'))
    .digest('base64');
}

/** JSON text with Raw numbers written verbatim. */
export function jsonText(v: Value): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(jsonText).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export function signedText(fields: Record<string, Value>, secret = SECRET): string {
  return jsonText({ ...fields, signature: gateSignature(fields, secret) });
}

export interface JetpayReply {
  status: number;
  type: string;
  body: Record<string, unknown> & { code?: number; message?: string };
}

/**
 * An answer as the Gate platform reads it: the HTTP status (`http`, what decides a callback's
 * redelivery) beside the JSON body, so one `toEqual` asserts both.
 */
export function seen(r: JetpayReply): { http: number } & JetpayReply['body'] {
  return { http: r.status, ...r.body };
}

export async function postJetpay(agent: supertest.Agent, path: string, text: string): Promise<JetpayReply> {
  const res = await agent.post(path).set('Content-Type', 'application/json').send(text);
  let body: JetpayReply['body'] = {};
  try {
    body = JSON.parse(res.text) as JetpayReply['body'];
  } catch {
    // not JSON: the assertions on `type` and `body` will say so
  }
  return { status: res.status, type: String(res.headers['content-type']), body };
}

export const verify = (agent: supertest.Agent, customerId: string, extra: Record<string, Value> = {}) =>
  postJetpay(
    agent,
    '/jetpay',
    signedText({ type: 'verify', project_id: new Raw(PROJECT_ID), customer_id: customerId, ...extra }),
  );

export function depositFields(
  customerId: string,
  entityId: string,
  amount: Value,
  extra: Record<string, Value> = {},
): Record<string, Value> {
  return {
    type: 'check_deposit',
    project_id: new Raw(PROJECT_ID),
    customer_id: customerId,
    entity_id: entityId,
    amount,
    currency: 'KZT',
    payment_method: 'terminal/kaspi',
    ...extra,
  };
}

export const checkDeposit = (
  agent: supertest.Agent,
  customerId: string,
  entityId: string,
  amount: Value,
  extra: Record<string, Value> = {},
) => postJetpay(agent, '/jetpay', signedText(depositFields(customerId, entityId, amount, extra)));

let operationSeq = 100;

/** A Gate callback shaped like the seed's examples. */
export function callbackFields(
  paymentId: string,
  status: 'success' | 'decline' | string,
  amount: Value,
  extra: Record<string, Value> = {},
): Record<string, Value> {
  operationSeq += 1;
  const sum = { amount, currency: 'KZT' };
  return {
    project_id: new Raw(PROJECT_ID),
    payment: {
      id: paymentId,
      type: 'purchase',
      status,
      date: '2026-11-23T11:08:45+0000',
      method: 'kaspi',
      sum,
      description: '',
    },
    account: { number: '1234567890' },
    customer: { id: 'customer_123' },
    operation: {
      id: operationSeq,
      type: 'sale',
      status,
      date: '2026-11-23T11:08:45+0000',
      created_date: '2026-11-23T11:08:05+0000',
      request_id: '9e32835fb27907e0b08569d7d150e387a16a80e336c5117242b5cf60a4e17839',
      sum_initial: sum,
      sum_converted: sum,
      code: status === 'success' ? '0' : '20000',
      message: status === 'success' ? 'Success' : 'General decline',
      provider: { id: 12345, payment_id: '123abc123-321', auth_code: '' },
    },
    ...extra,
  };
}

export const callback = (agent: supertest.Agent, fields: Record<string, Value>) =>
  postJetpay(agent, '/jetpay/callback', signedText(fields));

/** Log lines (JSON) written while a test runs, to assert that an ERROR was (or was not) logged. */
export function captureLogs(): {
  lines: Record<string, unknown>[];
  errors: (text: string) => Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  configureLogger({ level: 'info', format: 'json', stream });
  return {
    lines,
    errors: (text) => lines.filter((l) => l.level === 'error' && String(l.message).includes(text)),
  };
}

/**
 * The embedded billing with switches: `down` makes the credit throw (an outage inside the credit's
 * transaction), `entities` gives an account contracts, as an external billing may.
 */
export class SwitchableBilling implements EmbeddedBilling {
  readonly kind = 'sql' as const;
  down = false;
  lookupDown = false;
  readonly entities = new Map<string, BillingEntity[]>();

  constructor(private readonly inner: SqlBilling) {}

  async lookup(account: string): Promise<Lookup> {
    if (this.lookupDown) throw new Error('billing lookup down');
    const found = await this.inner.lookup(account);
    const entities = this.entities.get(account);
    return found.kind === 'account' && entities ? { ...found, entities } : found;
  }

  async creditInTransaction(trx: Knex.Transaction, req: CreditRequest): Promise<CreditOutcome> {
    if (this.down) throw new Error('billing down');
    return this.inner.creditInTransaction(trx, req);
  }
}

/** Overrides that put a SwitchableBilling in the gateway; `holder.billing` is set when it starts. */
export function switchableBilling(): { overrides: Overrides; holder: { billing?: SwitchableBilling } } {
  const holder: { billing?: SwitchableBilling } = {};
  return {
    holder,
    overrides: {
      billing: (stores, config) => {
        holder.billing = new SwitchableBilling(
          new SqlBilling(stores.accounts, { allowPartialOrderPayment: config.ORDER_ALLOW_PARTIAL }),
        );
        return holder.billing;
      },
    },
  };
}
