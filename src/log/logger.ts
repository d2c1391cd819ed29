import winston from 'winston';

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
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: maskText(value.message) };
    if (value.stack) out.stack = maskText(value.stack);
    for (const [k, v] of Object.entries(value))
      out[k] = SECRET_KEY.test(k) ? MASK : maskSecrets(v, seen, depth + 1);
    if (value.cause !== undefined) out.cause = maskSecrets(value.cause, seen, depth + 1);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, seen, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && v !== null && typeof v !== 'object'
        ? MASK
        : maskSecrets(v, seen, depth + 1);
  }
  return out;
}

export function maskText(text: string): string {
  return text
    .replace(/(Bearer\s+)[^\s"',]+/gi, `$1${MASK}`)
    .replace(/(\/\/[^:/@\s]+:)[^@/\s]+@/g, `$1${MASK}@`)
    .replace(/((?:password|secret|token|signature)["']?\s*[:=]\s*["']?)[^"'&\s,;}]+/gi, `$1${MASK}`);
}

const maskFormat = winston.format((info) => {
  const masked = maskSecrets({ ...info }) as Record<string, unknown>;
  for (const key of Object.keys(masked)) (info as Record<string, unknown>)[key] = masked[key];
  return info;
});

let root: winston.Logger | undefined;
const extraSecrets: string[] = [];

/** Secret values known from config (the JetPay secret, passwords) are masked wherever they appear. */
export function registerSecrets(...values: (string | undefined)[]): void {
  for (const v of values) if (v && v.length >= 4 && !extraSecrets.includes(v)) extraSecrets.push(v);
}

const knownSecretsFormat = winston.format((info) => {
  if (extraSecrets.length === 0) return info;
  const replace = (v: unknown): unknown => {
    if (typeof v === 'string') return extraSecrets.reduce((s, secret) => s.split(secret).join(MASK), v);
    if (Array.isArray(v)) return v.map(replace);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replace(x)]));
    return v;
  };
  for (const key of Object.keys(info))
    (info as Record<string, unknown>)[key] = replace((info as Record<string, unknown>)[key]);
  return info;
});

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  stream?: NodeJS.WritableStream;
}

export function configureLogger(opts: LoggerOptions): winston.Logger {
  const transport = opts.stream
    ? new winston.transports.Stream({ stream: opts.stream })
    : new winston.transports.Console({ stderrLevels: [] });
  const formats = [maskFormat(), knownSecretsFormat(), winston.format.timestamp()];
  const fmt =
    opts.format === 'json'
      ? winston.format.combine(...formats, winston.format.json())
      : winston.format.combine(
          ...formats,
          winston.format.printf(({ timestamp, level, message, module, ...rest }) => {
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${level.toUpperCase().padEnd(5)} [${String(module ?? 'app')}] ${String(message)}${extra}`;
          }),
        );
  const logger = winston.createLogger({ level: opts.level, format: fmt, transports: [transport] });
  if (root) {
    root.clear();
    for (const t of logger.transports) root.add(t);
    root.format = fmt;
    root.level = opts.level;
    return root;
  }
  root = logger;
  return root;
}

function rootLogger(): winston.Logger {
  if (!root) {
    const env = process.env.NODE_ENV;
    configureLogger({
      level: process.env.LOG_LEVEL ?? (env === 'test' ? 'warn' : 'info'),
      format: (process.env.LOG_FORMAT as 'json' | 'pretty') ?? (env === 'production' ? 'json' : 'pretty'),
    });
  }
  return root as winston.Logger;
}

/** A child logger per module. Cheap to call at module load; picks up a later configureLogger(). */
export function getLogger(module: string): winston.Logger {
  return rootLogger().child({ module });
}

export type Logger = winston.Logger;
