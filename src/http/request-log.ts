import { dbTime, fromDbTime, type Db } from '../db/db.js';
import { poolQuery } from '../db/raw-sql.js';
import { getLogger } from '../log/logger.js';
import { maskText } from '../log/logger.js';

const log = getLogger('request-log');

export interface RequestLogEntry {
  channel: 'kaspi' | 'jetpay' | 'refund_api' | 'billing' | 'kaspi_qr';
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

export interface RequestLogOptions {
  /** Entries written in one statement at most. */
  maxBatch?: number;
  /** How long an entry may wait for others to share its statement, ms. */
  lingerMs?: number;
  /** Entries held at most while the database refuses them; the oldest go first beyond it. */
  maxQueued?: number;
}

type Row = Record<string, string | number | null>;

// TEXT holds 65,535 bytes; a character of utf8mb4 takes up to 4.
const MAX_TEXT_CHARS = 16000;
// About 4 MB of utf8mb4 at worst per statement.
const MAX_BATCH_CHARS = 1_000_000;

/**
 * Writes the request log off the answer's path, in batches: an entry is queued after the answer
 * is sent and written with its neighbours in one multi-row insert, so a busy gateway spends one
 * statement (one commit) on many requests instead of one each. `flush()` writes what is queued
 * and waits for it (tests, and shutdown, so a clean stop loses no entry). A kill -9 can lose the
 * entries of the last `lingerMs`: this is the dispute log, the payments themselves are never in it.
 */
export class RequestLog {
  private queue: Row[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly maxQueued: number;

  constructor(
    private readonly db: Db,
    opts: RequestLogOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 200;
    this.lingerMs = opts.lingerMs ?? 20;
    this.maxQueued = opts.maxQueued ?? 20000;
  }

  record(e: RequestLogEntry): void {
    this.queue.push(toRow(e));
    if (this.queue.length > this.maxQueued) {
      const dropped = this.queue.splice(0, this.queue.length - this.maxQueued);
      log.warn('request log queue full: oldest entries dropped', { dropped: dropped.length });
    }
    if (this.writing) return; // the writer picks it up when it is done
    if (this.queue.length >= this.maxBatch) void this.drain();
    else this.timer ??= setTimeout(() => void this.drain(), this.lingerMs);
  }

  /** One entry at once, bypassing the queue. */
  async insert(e: RequestLogEntry): Promise<void> {
    await this.db.knex('request_log').insert(toRow(e));
  }

  /**
   * The first written answer of `channel` to `command` for `txnId` with this HTTP status, and how
   * many there are: how long a caller has been getting it (JetPay's redelivered callbacks).
   */
  async firstAnswer(
    channel: RequestLogEntry['channel'],
    command: string,
    txnId: string,
    httpStatus: number,
  ): Promise<{ at: Date; count: number } | null> {
    const r = (await this.db
      .knex('request_log')
      .where({ txn_id: txnId.slice(0, 64), channel, command, http_status: httpStatus })
      .min({ first: 'at' })
      .count({ n: '*' })
      .first()) as { first: string | Date | null; n: number | string } | undefined;
    const at = fromDbTime(r?.first);
    return at ? { at, count: Number(r?.n ?? 0) } : null;
  }

  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.writing) {
      if (this.writing) await this.writing;
      else await this.drain();
    }
  }

  /** Writes batches until the queue is empty; only one writer at a time, so order is kept. */
  private drain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing) return this.writing;
    this.writing = (async () => {
      try {
        while (this.queue.length > 0) await this.write(this.takeBatch());
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }

  /** Up to maxBatch entries, and few enough bytes to stay far below MySQL's max_allowed_packet. */
  private takeBatch(): Row[] {
    let n = 0;
    let chars = 0;
    while (n < this.queue.length && n < this.maxBatch && chars < MAX_BATCH_CHARS) {
      const row = this.queue[n] as Row;
      chars += String(row.request ?? '').length + String(row.response ?? '').length + 200;
      n++;
    }
    return this.queue.splice(0, Math.max(n, 1));
  }

  /** The batch in one multi-row insert of fixed text (no query builder: it cost more than the write). */
  private async insertRows(batch: Row[]): Promise<void> {
    const values: (string | number | null)[] = [];
    for (const row of batch) for (const c of COLUMNS) values.push(row[c] ?? null);
    await poolQuery(this.db, `${INSERT_HEAD}${batch.map(() => ROW_MARKS).join(', ')}`, values);
  }

  private async write(batch: Row[]): Promise<void> {
    try {
      await this.insertRows(batch);
    } catch (err) {
      if (batch.length === 1 || !isDataError(err)) {
        log.warn('request log entries not written', { err, entries: batch.length });
        return;
      }
      // One bad entry must not take its neighbours with it.
      for (const row of batch) {
        try {
          await this.insertRows([row]);
        } catch (e) {
          log.warn('request log entry not written', { err: e, channel: row.channel, txnId: row.txn_id });
        }
      }
    }
  }
}

function isDataError(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; sqlState?: string };
  return /^2[23]/.test(err?.sqlState ?? '') || /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH)/.test(err?.code ?? '');
}

/** Every row toRow makes has these columns, in this order. */
const COLUMNS = [
  'at',
  'channel',
  'request_id',
  'client_ip',
  'method',
  'request',
  'command',
  'txn_id',
  'http_status',
  'result',
  'comment',
  'response',
  'duration_ms',
] as const;
const INSERT_HEAD = `insert into \`request_log\` (${COLUMNS.map((c) => `\`${c}\``).join(', ')}) values `;
const ROW_MARKS = `(${COLUMNS.map(() => '?').join(', ')})`;

function toRow(e: RequestLogEntry): Row {
  return {
    at: dbTime(e.at ?? new Date()),
    channel: e.channel,
    request_id: e.requestId?.slice(0, 64) ?? null,
    client_ip: e.clientIp?.slice(0, 64) ?? null,
    method: e.method ?? null,
    request: e.request === undefined ? null : maskText(e.request).slice(0, MAX_TEXT_CHARS),
    command: e.command?.slice(0, 32) ?? null,
    txn_id: e.txnId?.slice(0, 64) ?? null,
    http_status: e.httpStatus ?? null,
    result: e.result === undefined || e.result === null ? null : String(e.result).slice(0, 16),
    comment: e.comment?.slice(0, 255) ?? null,
    response:
      e.response === undefined || e.response === null ? null : maskText(e.response).slice(0, MAX_TEXT_CHARS),
    duration_ms: e.durationMs === undefined ? null : Math.round(e.durationMs),
  };
}
