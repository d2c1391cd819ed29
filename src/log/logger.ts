import { types } from 'node:util';
import winston from 'winston';
import { currentRequestContext } from './request-context.js';
import { StdoutTransport } from './stdout-transport.js';

/**
 * Levels, as operators read them: ERROR = a person must act; WARN = it heals itself;
 * INFO = what happened to money; DEBUG = for developers.
 * Secrets are masked here, at the formatter, so no call site can leak one by accident.
 */

const SECRET_KEY = /pass(word)?|secret|token|signature|authorization|api[-_]?key|cookie/i;
const MASK = '***';

/** Masks values of secret-looking keys at any depth, and secrets embedded in text. */
export function maskSecrets(value: unknown, seen = new WeakSet<object>(), depth = 0): unknown {
  if (typeof value === 'string') return maskText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value) || depth > 8) return '[circular]';
  seen.add(value);
  if (isError(value)) return serializeError(value, seen, depth);
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, seen, depth + 1));
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && v !== null && typeof v !== 'object'
        ? MASK
        : maskSecrets(v, seen, depth + 1);
  }
  return out;
}

/**
 * An error from any realm, or built without the Error constructor: a VM context's errors and some
 * native modules' (better-sqlite3's SqliteError) are not `instanceof` this realm's Error, and would
 * otherwise be logged as a bare object without their (non-enumerable) message.
 */
function isError(v: unknown): v is Error {
  if (v instanceof Error || types.isNativeError(v)) return true;
  const e = v as { message?: unknown; stack?: unknown } | null;
  return typeof e === 'object' && e !== null && typeof e.message === 'string' && typeof e.stack === 'string';
}

/** Fields of an error worth a log line; everything else an error drags along stays out. */
const ERROR_FIELDS = ['code', 'errno', 'sqlState', 'sqlMessage', 'syscall', 'statusCode', 'status', 'type'];
/**
 * Fields never logged: mysql2's `sql` has the values inlined, knex's `bindings` are the values, and an
 * HTTP client's request/options/response carry headers (Authorization) and bodies.
 */
const ERROR_DROPPED = new Set([
  'sql',
  'bindings',
  'options',
  'request',
  'response',
  'timings',
  'input',
  'config',
  'headers',
  'body',
]);

interface GotLikeError extends Error {
  options?: { method?: unknown; url?: unknown };
  response?: { statusCode?: unknown; body?: unknown };
  timings?: unknown;
}

/** got's errors (HTTPError, RequestError, TimeoutError, ...): method, URL and status, no headers. */
function isGotError(e: Error): e is GotLikeError {
  return 'options' in e && 'timings' in e && typeof (e as { code?: unknown }).code === 'string';
}

/** A URL fit for a log: no user info, secret-looking query values masked. */
export function safeUrl(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  try {
    const u = new URL(String(raw));
    if (u.username) u.username = MASK;
    if (u.password) u.password = MASK;
    for (const key of [...u.searchParams.keys()]) if (SECRET_KEY.test(key)) u.searchParams.set(key, MASK);
    return maskText(u.href);
  } catch {
    return maskText(String(raw));
  }
}

export function serializeError(e: Error, seen = new WeakSet<object>(), depth = 0): Record<string, unknown> {
  seen.add(e);
  const out: Record<string, unknown> = { name: e.name, message: maskText(e.message) };
  if (depth > 8) return out;
  for (const k of ERROR_FIELDS) {
    const v = (e as unknown as Record<string, unknown>)[k];
    if (v !== undefined && v !== null && typeof v !== 'object')
      out[k] = typeof v === 'string' ? maskText(v) : v;
  }
  if (isGotError(e)) {
    try {
      out.method = e.options?.method;
      out.url = safeUrl(e.options?.url);
      const res = e.response;
      if (res?.statusCode !== undefined) out.statusCode = res.statusCode;
      if (typeof res?.body === 'string') out.responseBody = maskText(res.body.slice(0, 500));
      else if (Buffer.isBuffer(res?.body))
        out.responseBody = maskText(res.body.subarray(0, 500).toString('utf8'));
    } catch {
      // a half-built request: what we have is enough
    }
  }
  for (const [k, v] of Object.entries(e)) {
    if (k in out || ERROR_DROPPED.has(k)) continue;
    out[k] = SECRET_KEY.test(k) ? MASK : maskSecrets(v, seen, depth + 1);
  }
  if (e.stack) out.stack = maskText(e.stack);
  if (e.cause !== undefined && !(typeof e.cause === 'object' && e.cause !== null && seen.has(e.cause)))
    out.cause = isError(e.cause)
      ? serializeError(e.cause, seen, depth + 1)
      : maskSecrets(e.cause, seen, depth + 1);
  return out;
}

const extraSecrets: string[] = [];

/**
 * Secret values known from config (the JetPay secret, passwords) are masked wherever they appear:
 * in every text maskText sees, so in every log line and in the request log.
 */
export function registerSecrets(...values: (string | undefined)[]): void {
  for (const v of values) if (v && v.length >= 4 && !extraSecrets.includes(v)) extraSecrets.push(v);
}

function maskKnownSecrets(text: string): string {
  for (const secret of extraSecrets) if (text.includes(secret)) text = text.split(secret).join(MASK);
  return text;
}

const SECRET_WORDS = 'password|passwd|pwd|secret|token|signature|api[-_]?key';
const QUOTED_OR_BARE = `("(?:[^"\\\\]|\\\\.)*"|'[^']*'|[^"'&\\s,;}]+)`;
const SECRET_ASSIGNMENT = new RegExp(`((?:${SECRET_WORDS})["']?\\s*[:=]\\s*)${QUOTED_OR_BARE}`, 'gi');

/**
 * Every text the three patterns below can change contains one of these words or `//`. Most log text
 * (paths, ids, amounts) has none: one scan instead of three replaces on every line of every request.
 */
const MAYBE_SECRET = new RegExp(`bearer|basic|//|${SECRET_WORDS}`, 'i');

/** Masks secrets inside free text: auth headers, URL user info, `key=value` and `"key":"value"` pairs. */
export function maskText(text: string): string {
  if (extraSecrets.length > 0) text = maskKnownSecrets(text);
  if (!MAYBE_SECRET.test(text)) return text;
  return text
    .replace(/(\b(?:Bearer|Basic)\s+)[^\s"',]+/gi, `$1${MASK}`)
    .replace(/(\/\/[^:/@\s]+:)[^@/\s]+@/g, `$1${MASK}@`)
    .replace(SECRET_ASSIGNMENT, (_m, key: string, value: string) =>
      value.startsWith('"') ? `${key}"${MASK}"` : value.startsWith("'") ? `${key}'${MASK}'` : `${key}${MASK}`,
    );
}

/**
 * An error on a WARN (or INFO) line, in one line's worth: name, code, message and its causes as one
 * text ("OutboundError: billing: timeout (ETIMEDOUT) from host:port after 1003 ms, 2 attempts ← ...").
 * It heals itself, so nobody reads its stack: that, and the full chain, only when the log is at debug.
 */
export function briefError(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  for (const k of ERROR_FIELDS) {
    const v = (e as unknown as Record<string, unknown>)[k];
    if (v !== undefined && v !== null && typeof v !== 'object') out[k] = v;
  }
  const causes: string[] = [];
  let cause: unknown = e.cause;
  while (cause !== undefined && cause !== null && causes.length < 4) {
    if (!isError(cause)) {
      causes.push(String(cause));
      break;
    }
    const code = (cause as { code?: unknown }).code;
    causes.push(
      `${cause.name}${typeof code === 'string' && !cause.message.includes(code) ? ` [${code}]` : ''}: ${cause.message}`,
    );
    cause = cause.cause;
  }
  if (causes.length > 0) out.cause = causes.join(' ← ');
  return out;
}

/** Set by configureLogger: at debug, WARN lines carry whole errors (stack and chain). */
let debugEnabled = false;

/**
 * Masks the line's own fields in place (what maskSecrets does to a copy, without the copy and the
 * copy back: every request writes a line). Errors on lines below ERROR are cut to briefError first.
 */
const maskFormat = winston.format((info) => {
  const fields = info as Record<string, unknown>;
  const brief = info.level !== 'error' && !debugEnabled;
  const seen = new WeakSet<object>([fields]);
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (typeof v === 'string') fields[k] = SECRET_KEY.test(k) ? MASK : maskText(v);
    else if (typeof v === 'bigint') fields[k] = SECRET_KEY.test(k) ? MASK : String(v);
    else if (v !== null && typeof v === 'object')
      fields[k] = maskSecrets(brief && isError(v) ? briefError(v) : v, seen, 1);
    else if (v !== undefined && v !== null && SECRET_KEY.test(k)) fields[k] = MASK;
  }
  return info;
});

const MESSAGE = Symbol.for('message');
const stableJson = winston.format.json();

/**
 * The JSON line: JSON.stringify, several times cheaper than logform's json (safe-stable-stringify,
 * configured anew for every line, keys sorted). The fields are masked plain values by now; anything
 * JSON.stringify refuses (a BigInt deep in an object) goes the old way.
 */
const jsonFormat = winston.format((info) => {
  try {
    (info as Record<symbol, unknown>)[MESSAGE] = JSON.stringify(info);
    return info;
  } catch {
    return stableJson.transform(info, {});
  }
});

/** The request being served, if any: every line written on its behalf carries its id. */
const requestContextFormat = winston.format((info) => {
  if (info.requestId === undefined) {
    const ctx = currentRequestContext();
    if (ctx) info.requestId = ctx.requestId;
  }
  return info;
});

let root: winston.Logger | undefined;

/** A test run (jest sets NODE_ENV=test) without LOG_LEVEL writes no log: `LOG_LEVEL=warn npm test` shows it. */
export function quietTestRun(): boolean {
  return process.env.NODE_ENV === 'test' && process.env.LOG_LEVEL === undefined;
}

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  stream?: NodeJS.WritableStream;
  /** Write nothing at all (a test run without LOG_LEVEL); any later configureLogger() turns it back on. */
  silent?: boolean;
}

export function configureLogger(opts: LoggerOptions): winston.Logger {
  debugEnabled = opts.level === 'debug';
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new StdoutTransport();
  const formats = [requestContextFormat(), maskFormat(), winston.format.timestamp()];
  const fmt =
    opts.format === 'json'
      ? winston.format.combine(...formats, jsonFormat())
      : winston.format.combine(
          ...formats,
          winston.format.printf(({ timestamp, level, message, module, ...rest }) => {
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${level.toUpperCase().padEnd(5)} [${String(module ?? 'app')}] ${String(message)}${extra}`;
          }),
        );
  // pm2 merges its workers' output into one file: say which worker wrote a line.
  const worker = process.env.NODE_APP_INSTANCE;
  const logger = winston.createLogger({
    level: opts.level,
    format: fmt,
    transports: [transport],
    defaultMeta: worker === undefined ? undefined : { worker: Number(worker), pid: process.pid },
    silent: opts.silent ?? false,
  });
  if (root) {
    root.clear();
    for (const t of logger.transports) root.add(t);
    root.format = fmt;
    root.level = opts.level;
    root.silent = opts.silent ?? false;
    root.defaultMeta = logger.defaultMeta;
    return root;
  }
  root = logger;
  root.write = deliver;
  return root;
}

const LEVEL = Symbol.for('level');
const noop = () => {};

/**
 * What winston's write does with a line, without its streams: the root logger is a Transform piped
 * into each transport (readable-stream's buffering, `pipe` and `_write` in between, ~30 µs a line
 * under load, two or three lines per request). Here the line goes through the same format chain
 * (request id, masking, timestamp, JSON) and straight to each transport's `log`, in order and at
 * once; a line below the level is not formatted at all. Every child logger's write ends here.
 */
function deliver(this: winston.Logger, info: winston.LogEntry & Record<symbol, unknown>): boolean {
  if (this.silent) return true;
  const levels = this.levels;
  const rank = levels[info.level];
  const wanted = levels[this.level];
  const transports = this.transports;
  let anyOwnLevel = false;
  for (const t of transports) if (t.level) anyOwnLevel = true;
  if (!anyOwnLevel && rank !== undefined && wanted !== undefined && rank > wanted) return true;
  if (!info[LEVEL]) info[LEVEL] = info.level;
  const out = this.format.transform(info, this.format.options) as
    (winston.LogEntry & Record<symbol, unknown>) | false;
  if (!out) return true;
  for (const t of transports) {
    if (t.silent) continue;
    const own = levels[t.level ?? this.level];
    if (own !== undefined && rank !== undefined && rank > own) continue;
    const line = t.format ? t.format.transform({ ...out }, t.format.options) : out;
    if (line) (t as unknown as { log(i: unknown, next: () => void): void }).log(line, noop);
  }
  return true;
}

function rootLogger(): winston.Logger {
  if (!root) {
    const env = process.env.NODE_ENV;
    // A test run is quiet unless LOG_LEVEL asks otherwise (`LOG_LEVEL=warn npm test`); a test that reads
    // the log configures its own (test/support/log-capture.ts), which turns this off.
    configureLogger({
      level: process.env.LOG_LEVEL ?? (env === 'test' ? 'warn' : 'info'),
      format: (process.env.LOG_FORMAT as 'json' | 'pretty') ?? (env === 'production' ? 'json' : 'pretty'),
      silent: quietTestRun(),
    });
  }
  return root as winston.Logger;
}

/** A child logger per module. Cheap to call at module load; picks up a later configureLogger(). */
export function getLogger(module: string): winston.Logger {
  return rootLogger().child({ module });
}

export type Logger = winston.Logger;
