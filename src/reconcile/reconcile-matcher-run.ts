/**
 * The state of one matcher run: the items and matches found so far, what this registry has
 * matched or listed, the running totals and the deadlines derived from the settings. The passes
 * (reconcile-matcher-rows.ts, -refund.ts, -period.ts) read and add to it; nothing here does I/O.
 */
import { addBusinessDays, endOfDay, seventhAfter } from './reconcile-calendar.js';
import type { CountAmount, Item, Match, MatchInput, MatchSettings } from './reconcile-matcher-types.js';
import type { RegistryRow } from './registry-profile.js';

export const PENDING_PAYMENT = ['received', 'crediting', 'pending'];
export const PENDING_REFUND = ['new', 'accepted', 'in_progress', 'manual', 'in_progress_error'];

export const ca = (): CountAmount => ({ count: 0, amount: 0 });

export type NewItem = Omit<Item, 'escalateAt' | 'detail' | 'refundRef'> & Partial<Item>;

export class MatchRun {
  readonly s: MatchSettings;
  readonly items: Item[] = [];
  readonly matches: Match[] = [];
  readonly warnings: string[] = [];
  readonly receivedDay: string;
  readonly endOfReceived: string;
  readonly nextBusiness: string;

  readonly matchedPayments = new Set<string>();
  readonly matchedRefunds: Set<string>;
  readonly listedHere = new Set<string>();
  readonly refundSums: Map<string, number>;
  readonly overPaymentFlagged = new Set<string>();
  readonly registry = {
    payments: ca(),
    refunds: ca(),
    commission: 0,
    returnedCommission: 0,
    net: 0,
    rows: 0,
  };
  readonly matched = { payments: ca(), refunds: ca() };
  readonly seen = new Set<string>();

  constructor(
    readonly input: MatchInput,
    /** The payment and refund rows (not invalid, excluded or totals). */
    readonly dataRows: readonly RegistryRow[],
    /** The day deadlines of rows without a date count from: the period's end, else the receipt. */
    readonly monthDay: string,
  ) {
    this.s = input.settings;
    this.receivedDay = this.s.receivedWall.slice(0, 8);
    this.endOfReceived = endOfDay(this.receivedDay, this.s.offset);
    this.nextBusiness = endOfDay(addBusinessDays(this.receivedDay, 1, this.s.holidays), this.s.offset);
    this.matchedRefunds = new Set<string>(input.elsewhere.matchedRefundIds);
    this.refundSums = new Map(input.elsewhere.refundSumByTxn);
  }

  /** End of the seventh day after `day` (the receipt day when there is none). */
  seventh(day: string | null | undefined): string {
    return endOfDay(seventhAfter(day ?? this.receivedDay), this.s.offset);
  }

  add(it: NewItem): void {
    this.items.push({ escalateAt: null, detail: {}, refundRef: null, ...it });
  }

  fromRow(r: RegistryRow) {
    return {
      rowNo: r.rowNo,
      txnId: r.txnId,
      refundRef: r.refundRef,
      registryAmount: r.amount,
    };
  }
}

/**
 * Unit sanity: a profile reading tenge as tiyn (or back) is one error, not 1 000 items. True when
 * 9 in 10 payment rows we hold differ from ours by exactly ×100.
 */
export function looksScaled(dataRows: readonly RegistryRow[], input: MatchInput): boolean {
  let pairs = 0;
  let scaled = 0;
  for (const r of dataRows) {
    if (r.kind !== 'payment' || r.txnIdPrecision || !r.txnId) continue;
    const ours = input.paymentsByTxn.get(r.txnId);
    if (!ours || r.amount === null) continue;
    pairs++;
    if (r.amount !== 0 && (r.amount === ours.amount * 100 || r.amount * 100 === ours.amount)) scaled++;
  }
  return pairs > 0 && scaled / pairs >= 0.9;
}
