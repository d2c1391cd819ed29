import { dbTime, type Db } from '../db/db.js';
import { getLogger } from '../log/logger.js';
import { maskText } from '../log/logger.js';

const log = getLogger('request-log');

export interface RequestLogEntry {
  channel: 'kaspi' | 'jetpay' | 'refund_api' | 'billing';
  requestId?: string;
  clientIp?: string;
  method?: string;
  request?: string;
  command?: string | null;
  txnId?: string | null;
  httpStatus?: number;
  result?: string | number | null;
  comment?: string | null;
  response?: string | null;
  durationMs?: number;
  at?: Date;
}

/**
 * Writes the request log off the answer's path: an entry is inserted after the answer is sent.
 * `flush()` waits for what is in flight (tests, and shutdown so no entry is lost).
 */
export class RequestLog {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly db: Db) {}

  record(e: RequestLogEntry): void {
    const p = this.insert(e)
      .catch((err: unknown) => {
        log.warn('request log entry not written', { err, channel: e.channel, txnId: e.txnId });
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  async insert(e: RequestLogEntry): Promise<void> {
    await this.db.knex('request_log').insert({
      at: dbTime(e.at ?? new Date()),
      channel: e.channel,
      request_id: e.requestId?.slice(0, 64) ?? null,
      client_ip: e.clientIp?.slice(0, 64) ?? null,
      method: e.method ?? null,
      request: e.request === undefined ? null : maskText(e.request).slice(0, 65000),
      command: e.command?.slice(0, 32) ?? null,
      txn_id: e.txnId?.slice(0, 64) ?? null,
      http_status: e.httpStatus ?? null,
      result: e.result === undefined || e.result === null ? null : String(e.result).slice(0, 16),
      comment: e.comment?.slice(0, 255) ?? null,
      response: e.response === undefined || e.response === null ? null : maskText(e.response).slice(0, 65000),
      duration_ms: e.durationMs === undefined ? null : Math.round(e.durationMs),
    });
  }

  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
