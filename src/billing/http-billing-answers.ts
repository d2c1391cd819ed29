import { formatTenge, parseTenge, type Tiyn } from '../shared/money.js';
import { maskName, type Field, type Lookup, type OrderStatus } from './billing.js';

/**
 * Reading the external billing's answers (contract: spec/billing.md): JSON objects only, amounts as
 * tenge strings (never floats), references of a sane length. Null means "not the contract": the
 * caller treats it as a bad answer, never as a refusal.
 */

export function parseJson(body: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(body) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function readRef(data: Record<string, unknown> | null, key: string): string | null {
  const v = data?.[key];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'string' && v.length > 0 && v.length <= 100) return v;
  return null;
}

/** Tenge as the contract writes it ("1500.00"): a string, never a float. */
function readAmount(v: unknown): Tiyn | null {
  if (typeof v === 'string') return parseTenge(v);
  return null;
}

function readFields(v: unknown): Field[] | null {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return null;
  const out: Field[] = [];
  for (const f of v as unknown[]) {
    const r = f as { name?: unknown; value?: unknown };
    if (typeof r?.name !== 'string' || (typeof r.value !== 'string' && typeof r.value !== 'number'))
      return null;
    out.push({ name: r.name, value: String(r.value) });
  }
  return out;
}

const ORDER_STATUSES: readonly OrderStatus[] = ['open', 'paid', 'cancelled'];

export function readLookup(asked: string, d: Record<string, unknown>): Lookup | null {
  const fields = readFields(d.fields);
  if (fields === null) return null;
  const account = typeof d.account === 'string' ? d.account : asked;
  if (d.order !== undefined) {
    const o = d.order as { amount?: unknown; status?: unknown } | null;
    const due = readAmount(o?.amount);
    const status = ORDER_STATUSES.find((s) => s === o?.status);
    if (due === null || status === undefined) return null;
    return {
      kind: 'order',
      number: account,
      account,
      due,
      status,
      fields: [{ name: 'amount', value: formatTenge(due) }, ...fields],
    };
  }
  const name = typeof d.name === 'string' ? d.name : '';
  let balance: Tiyn | null = null;
  if (d.balance !== undefined && d.balance !== null) {
    // A negative balance (a debt) is legitimate on a billing's side.
    const neg = typeof d.balance === 'string' && d.balance.startsWith('-');
    const abs = readAmount(neg ? (d.balance as string).slice(1) : d.balance);
    if (abs === null) return null;
    balance = neg ? -abs : abs;
  }
  const shown: Field[] = [];
  if (name) shown.push({ name: 'fio', value: maskName(name) });
  if (balance !== null) shown.push({ name: 'balance', value: formatTenge(balance) });
  return { kind: 'account', account, name, balance, fields: [...shown, ...fields] };
}
