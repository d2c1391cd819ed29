import type { Field } from '../billing/billing.js';
import { formatTenge, type Tiyn } from '../shared/money.js';

/**
 * Kaspi's answers, rendered by hand: a handful of fixed elements, so a template with escaping is
 * both the cheapest and the easiest to read. Every text value goes through escapeXml.
 */

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

// Characters XML 1.0 cannot carry at all are dropped rather than sent broken.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

// Anything either replace below would change: most values (ids, sums, names) have none of it.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[&<>"'\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export function escapeXml(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(INVALID_XML, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c] as string);
}

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n';

export interface CheckAnswer {
  txnId: string | null;
  result: number;
  comment: string;
  fields?: Field[];
}

export interface PayAnswer {
  txnId: string | null;
  prvTxn: string | null;
  sum: Tiyn | null;
  result: number;
  comment: string;
}

export function renderCheck(a: CheckAnswer): string {
  let out = HEAD;
  if (a.txnId !== null) out += `  <txn_id>${escapeXml(a.txnId)}</txn_id>\n`;
  out += `  <result>${a.result}</result>\n`;
  if (a.fields && a.fields.length > 0) {
    out += '  <fields>\n';
    a.fields.forEach((f, i) => {
      out += `    <field${i + 1} name="${escapeXml(f.name)}">${escapeXml(f.value)}</field${i + 1}>\n`;
    });
    out += '  </fields>\n';
  }
  out += `  <comment>${escapeXml(a.comment)}</comment>\n</response>\n`;
  return out;
}

export function renderPay(a: PayAnswer): string {
  let out = HEAD;
  if (a.txnId !== null) out += `  <txn_id>${escapeXml(a.txnId)}</txn_id>\n`;
  if (a.prvTxn !== null) out += `  <prv_txn>${escapeXml(a.prvTxn)}</prv_txn>\n`;
  if (a.sum !== null) out += `  <sum>${formatTenge(a.sum)}</sum>\n`;
  out += `  <result>${a.result}</result>\n  <comment>${escapeXml(a.comment)}</comment>\n</response>\n`;
  return out;
}
