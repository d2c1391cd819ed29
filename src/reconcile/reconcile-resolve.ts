import { audit, type Actor } from '../audit/audit-log.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../shared/errors.js';
import { formatTenge } from '../shared/money.js';
import { readTxnDate } from '../shared/txn-date.js';
import type { StoredItem } from './reconcile-store.js';
import {
  allowedActions,
  RESOLVE_ACTIONS,
  type ReconcileDeps,
  type ResolveAction,
  type ResolveInput,
} from './reconcile-types.js';

/**
 * A person's resolution of an item (registries-seed-notes §1.7), each through the path that already
 * moves that money exactly once: `credit` through the pay path (unique key (kaspi, txn_id), billing
 * key `kaspi:<txn_id>`), `refund` through the Refund API's filing, `record-refund` through the refund
 * ledger's recorded success (the billing told once). Each one records who, when and why (the audit
 * log's `item.resolved`, in the transaction that closes the item). A resolve repeated answers with
 * the first one's outcome.
 */
export class Resolutions {
  constructor(private readonly deps: ReconcileDeps) {}

  async resolve(itemId: string, input: ResolveInput): Promise<StoredItem> {
    const item = await this.deps.store.getItem(itemId);
    if (!item) throw new NotFoundError('item');
    const action = input.action as ResolveAction;
    if (!RESOLVE_ACTIONS.includes(action))
      throw new ValidationError(`action: one of ${RESOLVE_ACTIONS.join(', ')}`);
    const note = input.note?.trim() || null;
    if (item.state !== 'open') {
      // The same resolve twice answers with the first one's outcome.
      if (item.action === action) return item;
      throw new ConflictError(`item ${item.id} is ${item.state}`, { state: item.state });
    }
    const allowed = allowedActions(item.class);
    if (!allowed.includes(action))
      throw new ValidationError(`${item.class} takes ${allowed.join(', ')}, not ${action}`, { allowed });
    if ((action === 'accept' || action === 'ignore') && !note)
      throw new ValidationError(`${action} needs a note`);

    if (action === 'credit') return this.credit(item, input, note);
    if (action === 'link') return this.link(item, input, note);
    if (action === 'refund') return this.refund(item, input, note);
    if (action === 'record-refund') return this.recordRefund(item, input, note);
    return this.close(item, action === 'ignore' ? 'ignored' : 'resolved', action, note, input.actor, {});
  }

  /** Out of `open`, once (the row count decides), with its audit entry and the run's status. */
  async close(
    item: StoredItem,
    state: 'resolved' | 'ignored' | 'auto_closed',
    action: string | null,
    note: string | null,
    actor: Actor,
    extra: Record<string, unknown>,
  ): Promise<StoredItem> {
    const store = this.deps.store;
    const detail = { ...item.detail, ...extra };
    const won = await this.deps.db.knex.transaction(async (trx) => {
      const ok = await store.closeItem(trx, item.id, { state, action, note, by: actor.id, detail });
      if (!ok) return false;
      await audit.record(trx, {
        actor,
        action: 'item.resolved',
        target: { type: 'item', id: item.id },
        details: {
          runId: item.runId,
          class: item.class,
          txnId: item.txnId,
          action,
          state,
          note,
          registryAmount: item.registryAmount === null ? null : formatTenge(item.registryAmount),
          ...extra,
        },
      });
      if ((await store.openCount(item.runId, trx)) === 0) {
        const run = await store.getRun(item.runId, trx);
        if (run && run.status === 'discrepancies') await store.setRunStatus(item.runId, 'resolved', trx);
      }
      return true;
    });
    const now = (await store.getItem(item.id)) as StoredItem;
    if (!won && now.action !== action) throw new ConflictError(`item ${item.id} is ${now.state}`);
    return now;
  }

  /**
   * MISSING_OURS: the row's payment recorded and credited through the pay path every channel uses:
   * a late Kaspi pay of the same txn_id and this credit, however they interleave, credit once.
   * REFUSED_OURS: the failed payment credited from `failed` by creditStored (decision 012: the one
   * path by which a final state moves). The billing down: the payment is `pending`, the item stays
   * open saying so, and the watch job closes it once the credit retry got it through.
   */
  private async credit(item: StoredItem, input: ResolveInput, note: string | null): Promise<StoredItem> {
    const { payments, paymentStore, settings: s } = this.deps;
    if (item.class === 'REFUSED_OURS') {
      if (!item.paymentId) throw new ConflictError('the item has no payment');
      const ours = await paymentStore.findById(item.paymentId);
      if (input.account && ours && input.account !== ours.account)
        throw new ValidationError(
          'a refused payment is credited to its own account; --account must match it or be left out',
        );
      const out = await payments.creditStored(item.paymentId, ['failed']);
      const after = await paymentStore.findById(item.paymentId);
      if (after?.state === 'credited')
        return this.close(item, 'resolved', 'credit', note, input.actor, {
          credit: { result: out.result, prvTxn: out.prvTxn },
        });
      return this.stillOpen(item, input, 'credit', {
        result: out.result,
        comment: out.comment,
        state: after?.state ?? null,
      });
    }
    const row = item.rowId ? (await this.deps.store.rowsById([item.rowId]))[0] : null;
    if (!row || !row.txnId || row.amount === null || !row.dateRaw)
      throw new ConflictError('the item has no registry row to credit');
    const account = input.account?.trim() || row.account;
    if (!account) throw new ValidationError('the row has no account: --account is required');
    const dateOnly = row.dateRaw.length === 8;
    const txnDateRaw = dateOnly ? `${row.dateRaw}000000` : row.dateRaw;
    const when = readTxnDate(txnDateRaw, s.offset);
    if (!when) throw new ConflictError(`the row's date ${row.dateRaw} is not a time`);
    const out = await payments.recordAndCredit({
      source: 'kaspi',
      txnId: row.txnId,
      account,
      amount: row.amount,
      txnDateRaw,
      txnDate: when.utc,
      txnDateIso: when.iso,
      extra: null,
    });
    const credit = {
      result: out.result,
      comment: out.comment,
      prvTxn: out.prvTxn,
      created: out.created,
      dateOnly,
    };
    if (out.result === 0) return this.close(item, 'resolved', 'credit', note, input.actor, { credit });
    if (out.result === 4) return this.stillOpen(item, input, 'credit', credit);
    throw new AppError(
      'credit_refused',
      `the billing refused the credit: result ${out.result} (${out.comment})`,
      {
        httpStatus: 409,
        details: credit,
      },
    );
  }

  /**
   * REFUSED_OURS, the other way: Kaspi counts as paid a payment we refused, so its money goes back
   * to the payer through the Refund API (origin `registry`; the billing, never credited, hears
   * nothing). The item stays open until the refund is `success` (the watch job closes it).
   */
  private async refund(item: StoredItem, input: ResolveInput, note: string | null): Promise<StoredItem> {
    const refunds = this.refundsOrRefuse();
    if (!item.paymentId || !item.txnId) throw new ConflictError('the item has no payment');
    const ours = await this.deps.paymentStore.findById(item.paymentId);
    if (!ours || ours.state !== 'failed')
      throw new ConflictError(
        `payment ${item.txnId} is ${ours?.state ?? 'gone'}, not failed: nothing to refund here`,
      );
    const { refund } = await refunds.create({
      txnId: item.txnId,
      amount: ours.amount,
      // The same words every time: a repeated resolve is the same request (idempotency key).
      reason: `Kaspi's registry lists it as paid, we refused it (reconciliation item ${item.id})`,
      idempotencyKey: `reconcile-item:${item.id}`,
      createdBy: `reconcile:${input.actor.id}`.slice(0, 64),
      actor: input.actor,
      origin: 'registry',
    });
    const filed = { refundId: refund.id, status: refund.status };
    if (refund.status === 'success')
      return this.close(item, 'resolved', 'refund', note, input.actor, { refund: filed });
    return this.stillOpen(item, input, 'refund', filed, note);
  }

  /**
   * REFUND_MISSING_OURS (a refund Kaspi made outside the gateway) and REFUND_STATUS_DIFFERS with ours
   * declined/failed (Kaspi paid it after all): the registry's refund recorded as ours, success,
   * nothing sent to Kaspi, the billing told once (a repeat is the same refund: its idempotency key).
   */
  private async recordRefund(
    item: StoredItem,
    input: ResolveInput,
    note: string | null,
  ): Promise<StoredItem> {
    const refunds = this.refundsOrRefuse();
    const status = item.detail.refundStatus;
    if (item.class === 'REFUND_STATUS_DIFFERS' && status !== 'declined' && status !== 'failed')
      throw new ConflictError(
        `our refund is ${String(status)}: it is followed again with npm run cli -- refunds resume, not recorded anew`,
      );
    const row = item.rowId ? (await this.deps.store.rowsById([item.rowId]))[0] : null;
    if (!row || row.kind !== 'refund' || !row.txnId || row.amount === null)
      throw new ConflictError('the item has no registry refund row to record');
    const { refund, created } = await refunds.recordDone({
      txnId: row.txnId,
      amount: row.amount,
      reason: `a refund Kaspi made outside the gateway, listed by its registry (reconciliation item ${item.id})`,
      idempotencyKey: `reconcile-item:${item.id}`,
      createdBy: `reconcile:${input.actor.id}`.slice(0, 64),
      actor: input.actor,
      kaspiRef: row.refundRef,
      replacesRefundId: item.refundId,
    });
    return this.close(item, 'resolved', 'record-refund', note, input.actor, {
      refund: {
        refundId: refund.id,
        status: refund.status,
        created,
        billingNotified: refund.billingNotifiedAt !== null,
      },
    });
  }

  private refundsOrRefuse(): NonNullable<ReconcileDeps['refunds']> {
    const refunds = this.deps.refunds;
    if (!refunds)
      throw new AppError('refunds_disabled', 'refunds are not available here', { httpStatus: 409 });
    return refunds;
  }

  /**
   * Money asked for and not through yet (a credit in doubt at the billing, a refund Kaspi has not
   * finished): the item stays open and says so; the watch job closes it once it is through.
   */
  private async stillOpen(
    item: StoredItem,
    input: ResolveInput,
    what: 'credit' | 'refund',
    out: Record<string, unknown>,
    note: string | null = null,
  ): Promise<StoredItem> {
    const reason =
      what === 'credit'
        ? 'the billing did not confirm the credit: the payment is pending, the credit retry carries on'
        : 'the refund is filed with Kaspi: the item closes when it is success';
    await this.deps.store.updateItem(item.id, {
      detail: { ...item.detail, [what]: { ...out, pending: true, by: input.actor.id, note, reason } },
    });
    return (await this.deps.store.getItem(item.id)) as StoredItem;
  }

  /** TXN_ID_PRECISION: a person confirms which of our payments the damaged id is. */
  private async link(item: StoredItem, input: ResolveInput, note: string | null): Promise<StoredItem> {
    const txn = input.payment?.trim();
    if (!txn) throw new ValidationError('link needs --payment <txn_id>');
    const candidates = (item.detail.candidates ?? []) as Array<{ paymentId: string; txnId: string }>;
    const chosen = candidates.find((c) => c.txnId === txn);
    if (!chosen)
      throw new ValidationError(`${txn} is not one of the candidates`, {
        candidates: candidates.map((c) => c.txnId),
      });
    return this.close(item, 'resolved', 'link', note, input.actor, { linked: chosen });
  }
}
