import { XMLParser } from 'fast-xml-parser';
import type supertest from 'supertest';

const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, attributeNamePrefix: '@' });

export interface KaspiXml {
  txn_id?: string;
  prv_txn?: string;
  sum?: string;
  result: string;
  comment: string;
  fields?: Record<string, { '#text'?: string; '@name': string }>;
}

/** Parses Kaspi's XML answer back, as Kaspi's side would. */
export function parseKaspi(body: string): KaspiXml {
  const doc = parser.parse(body) as { response: KaspiXml };
  return doc.response;
}

let seq = 0;
/** A txn_id unique in this process: 18 digits, above 2^53, so a JS number would lose digits. */
export function newTxnId(): string {
  seq += 1;
  return `9${String(process.pid).padStart(7, '0')}${String(Date.now() % 1e6).padStart(6, '0')}${String(seq).padStart(4, '0')}`.slice(
    0,
    18,
  );
}

export const TXN_DATE = '20261123141500';

export function kaspiQuery(params: Record<string, string>): string {
  return `/payment_app.cgi?${new URLSearchParams(params).toString()}`;
}

export async function kaspi(
  agent: supertest.Agent,
  params: Record<string, string>,
): Promise<{ status: number; xml: KaspiXml; text: string; type: string }> {
  const res = await agent.get(kaspiQuery(params));
  return {
    status: res.status,
    xml: res.status === 200 ? parseKaspi(res.text) : ({} as KaspiXml),
    text: res.text,
    type: String(res.headers['content-type']),
  };
}

export function pay(
  agent: supertest.Agent,
  txnId: string,
  account: string,
  sum: string,
  extra: Record<string, string> = {},
) {
  return kaspi(agent, { command: 'pay', txn_id: txnId, account, sum, txn_date: TXN_DATE, ...extra });
}

export function check(agent: supertest.Agent, txnId: string, account: string, sum = '100.00') {
  return kaspi(agent, { command: 'check', txn_id: txnId, account, sum });
}
