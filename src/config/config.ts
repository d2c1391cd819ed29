import path from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { parseTenge } from '../shared/money.js';
import { readJson, shown, unknownKey } from './config-files.js';
import { KASPI_QR_DEFAULTS, KASPI_QR_SCHEMA, kaspiQrProblems } from './kaspi-qr-config.js';
import { RECONCILE_DEFAULTS, RECONCILE_SCHEMA, reconcileProblems } from './reconcile-config.js';

/**
 * Every setting the service reads, each with its env name, default and a doc line.
 * Layers, later wins: schema defaults < config/default.json < config/<NODE_ENV>.json < environment.
 * The result is validated once at start and frozen.
 */

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const tenge = z.string().transform((v, ctx) => {
  const t = parseTenge(v);
  if (t === null) {
    ctx.addIssue({ code: 'custom', message: 'must be tenge like 100.00' });
    return z.NEVER;
  }
  return t;
});

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).describe('development | test | production'),
  HOST: z.string().describe('public listener address'),
  PORT: int(0, 65535).describe('public listener port'),
  ADMIN_HOST: z.string().describe('admin listener address (keep it private)'),
  ADMIN_PORT: int(0, 65535).describe('admin listener port'),
  ADMIN_API_KEY: z.string().min(16).optional().describe('Bearer key for /api on the admin listener'),
  DATABASE_URL: z
    .string()
    .regex(/^(mysql|mariadb):\/\/|^sqlite:/, 'must be mysql://user:pass@host:3306/db or sqlite:<file>')
    .describe('database: mysql://... or sqlite:<file>'),
  DB_POOL_MAX: int(1, 200).describe('connections per process (MySQL)'),
  DB_COMMIT_ATTEMPTS: int(1, 20).describe(
    'attempts of a write the database aborted for a conflict (deadlock, Galera certification): 1 = no retry',
  ),
  DB_WSREP_SYNC_WAIT: int(0, 15)
    .optional()
    .describe('Galera: SET SESSION wsrep_sync_wait on every connection (1 = causal reads); unset: not set'),
  KASPI_PATH: z.string().startsWith('/').describe('path Kaspi calls for check/pay'),
  KASPI_ALLOWED_IPS: z.string().describe('comma-separated CIDRs allowed to call the Kaspi path'),
  TRUST_PROXY: z.string().describe('Express trust proxy: false, loopback, a CIDR list, or a hop count'),
  ACCOUNT_REGEX: z.string().describe('regex an account must match (the one given to Kaspi)'),
  PAY_MIN_SUM: tenge.describe('smallest payment, tenge'),
  PAY_MAX_SUM: tenge.describe('largest payment, tenge'),
  PAY_DEADLINE_MS: int(100, 14000).describe('a pay is answered within this budget'),
  ORDER_ALLOW_PARTIAL: bool.describe('order mode: accept a pay below the amount due'),
  KASPI_TXN_DATE_OFFSET: z
    .string()
    .regex(/^[+-]\d{2}:\d{2}$/)
    .describe('UTC offset of txn_date (Kazakhstan: +05:00)'),
  BILLING_ADAPTER: z.enum(['sql', 'http']).describe('sql = embedded accounts, http = external billing'),
  BILLING_URL: z.string().url().optional().describe('external billing base URL'),
  BILLING_TOKEN: z.string().optional().describe('Bearer token for the external billing'),
  BILLING_TIMEOUT_MS: int(100, 60000).describe('timeout of one billing call attempt (connect to last byte)'),
  BILLING_MAX_ATTEMPTS: int(1, 10).describe(
    'attempts per billing call; only GETs and keyed POSTs are repeated',
  ),
  BILLING_RETRY_BASE_MS: int(10, 10000).describe(
    'first pause between billing attempts; doubles, with jitter',
  ),
  RETRY_CRON: z.string().describe('cron of the pending-credit retry job'),
  RETRY_BACKOFF_MS: int(100, 3_600_000).describe(
    'first delay before a pending credit is retried; doubles, with jitter',
  ),
  RETRY_BACKOFF_MAX_MS: int(1000, 86_400_000).describe('longest delay between retries of a pending credit'),
  RETRY_BATCH_SIZE: int(1, 1000).describe('pending credits the retry job takes per query'),
  RETRY_LEASE_MS: int(1000, 3_600_000).describe('lease of the retry job (renewed while it runs)'),
  RETRY_STUCK_AFTER_MS: int(1000, 2_592_000_000).describe(
    'a credit not final after this long is logged at ERROR',
  ),
  JETPAY_PROJECT_ID: z
    .string()
    .regex(/^\d{1,20}$/, 'must be the digits of the JetPay project id')
    .optional()
    .describe('JetPay project id; JetPay is on only when this and JETPAY_SECRET are set'),
  JETPAY_SECRET: z.string().min(1).optional().describe('JetPay signing secret (HMAC-SHA512 key)'),
  JETPAY_SKIP_SIGNATURE: bool.describe(
    'development only: accept verify/check_deposit without a valid signature',
  ),
  REFUND_API_URL: z.string().url().optional().describe('Kaspi Refund API base URL'),
  REFUND_API_LOGIN: z.string().optional().describe('Refund API login'),
  REFUND_API_PASSWORD: z.string().optional().describe('Refund API password'),
  REFUND_AMOUNT_UNIT: z.enum(['tenge', 'tiyn']).describe('unit of ReturnAmount on the wire'),
  REFUND_POLL_CRON: z.string().describe('cron of the refund poller'),
  REFUND_BACKOFF_MS: int(1000, 3_600_000).describe('first refund poll delay, doubles per poll, with jitter'),
  REFUND_API_TIMEOUT_MS: int(100, 60000).describe('timeout of one Refund API call'),
  REFUND_MAX_AGE_DAYS: int(1, 365).describe(
    'a refund not final after this many days is flagged for a person',
  ),
  REQUEST_LOG_RETENTION_DAYS: int(30, 3650).describe('request log kept this many days (>= 30)'),
  REQUEST_LOG_RETENTION_CRON: z
    .string()
    .describe('cron of the request log purge (one runner, under a lease)'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).describe('log level'),
  LOG_FORMAT: z.enum(['json', 'pretty']).describe('json lines or pretty text'),
  SEED_DEMO_ACCOUNTS: bool.describe('create demo accounts at start (development)'),
  TLS_CERT_FILE: z
    .string()
    .optional()
    .describe('PEM certificate (chain) file: the public listener speaks HTTPS'),
  TLS_KEY_FILE: z.string().optional().describe('PEM private key file for TLS_CERT_FILE'),
  HTTP_HEADERS_TIMEOUT_MS: int(1000, 600_000).describe('a client must send its request headers within this'),
  HTTP_REQUEST_TIMEOUT_MS: int(1000, 600_000).describe(
    'a whole request (headers + body) must arrive within this; our answer time is not counted',
  ),
  HTTP_KEEPALIVE_TIMEOUT_MS: int(1000, 600_000).describe(
    'idle keep-alive connections are closed after this (above the proxy/load balancer idle timeout)',
  ),
  SHUTDOWN_TIMEOUT_MS: int(1000, 120_000).describe(
    'graceful stop: in-flight requests get this long to finish (keep pm2 kill_timeout above it)',
  ),
  CONSOLE_LANG: z.enum(['ru', 'en']).describe('operator console: language before a person picks one'),
  CONSOLE_SESSION_IDLE_MIN: int(1, 1440).describe('operator console: a session unused this long ends'),
  CONSOLE_SESSION_MAX_HOURS: int(1, 24).describe('operator console: a session ends this long after sign-in'),
  CONSOLE_COOKIE_SECURE: bool.describe(
    'operator console: the session cookie is Secure even over plain HTTP (behind a TLS proxy)',
  ),
  METRICS_PORT: int(0, 65535)
    .optional()
    .describe(
      'optional /metrics-only listener on ADMIN_HOST; under pm2 each worker takes METRICS_PORT + its instance number',
    ),
  ...KASPI_QR_SCHEMA,
  ...RECONCILE_SCHEMA,
});

export type Config = Readonly<z.infer<typeof schema>>;
export type ConfigKey = keyof z.infer<typeof schema>;

const KASPI_IP = '194.187.247.152/32';

function defaults(env: string): Record<string, string> {
  const dev = env !== 'production';
  return {
    NODE_ENV: env,
    HOST: '0.0.0.0',
    PORT: '8080',
    ADMIN_HOST: '127.0.0.1',
    ADMIN_PORT: '8081',
    DATABASE_URL: 'sqlite:./data/gateway.sqlite',
    DB_POOL_MAX: '10',
    DB_COMMIT_ATTEMPTS: '4',
    KASPI_PATH: '/payment_app.cgi',
    KASPI_ALLOWED_IPS: dev ? `${KASPI_IP},127.0.0.0/8,::1/128` : KASPI_IP,
    TRUST_PROXY: 'false',
    ACCOUNT_REGEX: '^[^\\x00-\\x1f]{1,200}$',
    PAY_MIN_SUM: '1.00',
    PAY_MAX_SUM: '10000000.00',
    PAY_DEADLINE_MS: '10000',
    ORDER_ALLOW_PARTIAL: 'false',
    KASPI_TXN_DATE_OFFSET: '+05:00',
    BILLING_ADAPTER: 'sql',
    BILLING_TIMEOUT_MS: '5000',
    BILLING_MAX_ATTEMPTS: '3',
    BILLING_RETRY_BASE_MS: '200',
    RETRY_CRON: '*/30 * * * * *',
    RETRY_BACKOFF_MS: '10000',
    RETRY_BACKOFF_MAX_MS: '600000',
    RETRY_BATCH_SIZE: '100',
    RETRY_LEASE_MS: '60000',
    RETRY_STUCK_AFTER_MS: '3600000',
    JETPAY_SKIP_SIGNATURE: 'false',
    REFUND_AMOUNT_UNIT: 'tenge',
    REFUND_POLL_CRON: '*/1 * * * *',
    REFUND_BACKOFF_MS: '60000',
    REFUND_API_TIMEOUT_MS: '10000',
    REFUND_MAX_AGE_DAYS: '14',
    REQUEST_LOG_RETENTION_DAYS: '90',
    // Daily, at a quiet hour of the server's clock; a missed day is caught up by the next run.
    REQUEST_LOG_RETENTION_CRON: '17 3 * * *',
    LOG_LEVEL: env === 'test' ? 'warn' : 'info',
    LOG_FORMAT: dev ? 'pretty' : 'json',
    SEED_DEMO_ACCOUNTS: env === 'development' ? 'true' : 'false',
    // Kaspi's deadline is 15 s: a request that has not arrived whole by then is not worth waiting for.
    HTTP_HEADERS_TIMEOUT_MS: '15000',
    HTTP_REQUEST_TIMEOUT_MS: '30000',
    // Above nginx's keepalive_timeout (60 s) and common load balancers' idle timeouts, so the proxy, not
    // us, closes an idle upstream connection: the other order races with a request sent on it.
    HTTP_KEEPALIVE_TIMEOUT_MS: '65000',
    SHUTDOWN_TIMEOUT_MS: '15000',
    ...KASPI_QR_DEFAULTS,
    ...RECONCILE_DEFAULTS,
    CONSOLE_LANG: 'ru',
    CONSOLE_SESSION_IDLE_MIN: '30',
    CONSOLE_SESSION_MAX_HOURS: '12',
    CONSOLE_COOKIE_SECURE: 'false',
  };
}

/** Settings production cannot guess: it refuses to start without them. */
const REQUIRED_IN_PRODUCTION: ConfigKey[] = ['DATABASE_URL', 'ADMIN_API_KEY'];

/**
 * A setting the service cannot start with. The message is one line naming each key, fit for stderr
 * as it is: the entry points print it and exit 78 (EX_CONFIG), never with a stack.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** The exit code of a refused configuration (sysexits EX_CONFIG): pm2 and systemd tell it from a crash. */
export const EXIT_CONFIG = 78;

const KEYS = new Set(Object.keys(schema.shape));

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides win over everything: tests and the composition root use them. */
  overrides?: Partial<Record<ConfigKey, string | number | boolean>>;
  configDir?: string;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const nodeEnv = String(opts.overrides?.NODE_ENV ?? env.NODE_ENV ?? 'development');
  const dir = opts.configDir ?? path.resolve('config');
  const fromEnv: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  const problems: string[] = [];
  const fileLayers = {
    ...readJson(path.join(dir, 'default.json'), KEYS, problems),
    ...readJson(path.join(dir, `${nodeEnv}.json`), KEYS, problems),
  };
  for (const k of Object.keys(opts.overrides ?? {}))
    if (!KEYS.has(k)) problems.push(unknownKey('overrides', k, KEYS));
  const explicit = { ...fileLayers, ...fromEnv, ...(opts.overrides ?? {}) } as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...defaults(nodeEnv), ...explicit, NODE_ENV: nodeEnv };

  // Every cron, whoever owns it, is checked here, before anything is opened or migrated: a job that
  // could not be scheduled would otherwise stop the service after its start.
  for (const key of KEYS) {
    if (key.endsWith('_CRON') && !cron.validate(String(merged[key] ?? '')))
      problems.push(`${key}: not a cron expression${shown(key, merged[key])}`);
  }
  if (nodeEnv === 'production') {
    for (const key of REQUIRED_IN_PRODUCTION) {
      if (explicit[key] === undefined || explicit[key] === '')
        problems.push(`${key} is required in production`);
    }
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      problems.push(`${key}: ${issue.message}${shown(key, merged[key])}`);
    }
  } else {
    const c = parsed.data;
    try {
      new RegExp(c.ACCOUNT_REGEX, 'u');
    } catch {
      problems.push('ACCOUNT_REGEX: not a valid regular expression');
    }
    if (c.PAY_MIN_SUM > c.PAY_MAX_SUM) problems.push('PAY_MIN_SUM: must not exceed PAY_MAX_SUM');
    if (c.BILLING_ADAPTER === 'http' && !c.BILLING_URL)
      problems.push('BILLING_URL is required with BILLING_ADAPTER=http');
    if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE))
      problems.push('TLS_CERT_FILE and TLS_KEY_FILE: set both or neither');
    if (c.SHUTDOWN_TIMEOUT_MS <= c.PAY_DEADLINE_MS)
      problems.push('SHUTDOWN_TIMEOUT_MS: must exceed PAY_DEADLINE_MS, so a pay in flight is never cut');
    if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS)
      problems.push('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
    if (c.REFUND_API_URL && !(c.REFUND_API_LOGIN && c.REFUND_API_PASSWORD)) {
      problems.push('REFUND_API_LOGIN and REFUND_API_PASSWORD are required with REFUND_API_URL');
    }
    if (Boolean(c.JETPAY_PROJECT_ID) !== Boolean(c.JETPAY_SECRET)) {
      problems.push('JETPAY_PROJECT_ID and JETPAY_SECRET: set both to turn JetPay on, or neither');
    }
    if (c.JETPAY_SKIP_SIGNATURE && nodeEnv === 'production') {
      problems.push('JETPAY_SKIP_SIGNATURE: never in production');
    }
    if (c.RETRY_BACKOFF_MS > c.RETRY_BACKOFF_MAX_MS)
      problems.push('RETRY_BACKOFF_MS: must not exceed RETRY_BACKOFF_MAX_MS');
    // Its own cron line is left out: the check above named that key already, with its value.
    problems.push(...kaspiQrProblems(c, nodeEnv).filter((p) => !/^\w+_CRON: not a cron/.test(p)));
    problems.push(...reconcileProblems(c));
    if (nodeEnv === 'production' && c.DATABASE_URL.startsWith('sqlite:') && !explicit.DATABASE_URL) {
      problems.push('DATABASE_URL is required in production');
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError([...new Set(problems)]);
  // Frozen: a setting is what start saw; nothing changes one later (values are all primitives).
  return Object.freeze({ ...parsed.data });
}

/** JetPay's routes exist only when both its settings are given; production needs them only then. */
export function jetpayEnabled(c: Config): boolean {
  return Boolean(c.JETPAY_PROJECT_ID && c.JETPAY_SECRET);
}

/** The documented settings, for the README table and `cli config`. */
export function describeConfig(): { key: string; doc: string; dev: string; prod: string }[] {
  const dev = defaults('development');
  const prod = defaults('production');
  return Object.entries(schema.shape).map(([key, s]) => ({
    key,
    doc: (s as z.ZodType).description ?? '',
    dev: dev[key] ?? '',
    prod: prod[key] ?? '',
  }));
}
