import cron from 'node-cron';
import { z } from 'zod';

/**
 * Kaspi QR settings (shared/spec/kaspi-qr.md "Configuration"): the keys config.ts merges into its
 * schema, their defaults, and the checks across keys. KASPI_QR_SCHEME unset = Kaspi QR is off and
 * none of the others is looked at.
 */

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const KASPI_QR_SCHEMA = {
  KASPI_QR_SCHEME: z.enum(['r1', 'r2', 'r3']).optional().describe('Kaspi QR scheme r1/r2/r3; unset = off'),
  KASPI_QR_BASE_URL: z
    .string()
    .url()
    .optional()
    .describe('Kaspi QR base URL with scheme and version, e.g. https://mtokentest.kaspi.kz:8545/r3/v01'),
  KASPI_QR_API_KEY: z.string().min(1).optional().describe('r1 only: the Api-Key'),
  KASPI_QR_CERT_FILE: z.string().optional().describe('r2/r3: client certificate (PEM)'),
  KASPI_QR_KEY_FILE: z
    .string()
    .optional()
    .describe('r2/r3: private key of the certificate (PEM, may be encrypted)'),
  KASPI_QR_KEY_PASSPHRASE: z.string().optional().describe('r2/r3: passphrase of the key or of the PFX'),
  KASPI_QR_PFX_FILE: z
    .string()
    .optional()
    .describe('r2/r3: client certificate and key as PKCS#12 (instead of PEM)'),
  KASPI_QR_CA_FILE: z
    .string()
    .optional()
    .describe("Kaspi's root + intermediate CA (PEM) that verify its server; unset = the system store"),
  KASPI_QR_ORGANIZATION_BIN: z
    .string()
    .regex(/^\d{12}$/, 'must be the 12 digits of the BIN/IIN')
    .optional()
    .describe('r3: the organisation BIN/IIN sent on every call that takes it'),
  KASPI_QR_DEVICE_TOKEN: z.string().min(1).optional().describe('device token (else the stored one)'),
  KASPI_QR_TRADE_POINT_ID: z
    .string()
    .regex(/^\d{1,19}$/, 'must be the digits of a TradePointId')
    .optional()
    .describe('with KASPI_QR_DEVICE_ID: the device registered at start when no token is known'),
  KASPI_QR_DEVICE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'only Latin letters, digits, dash and underscore')
    .optional()
    .describe('our id of the device (cash desk) registered at Kaspi'),
  KASPI_QR_TIMEOUT_MS: int(500, 60000).describe('timeout of one Kaspi QR call (connect to last byte)'),
  KASPI_QR_POLL_CRON: z.string().describe("the status engine's tick; each purchase keeps its own interval"),
  KASPI_QR_LATE_CHECKS: z
    .string()
    .describe('re-checks after a purchase expired unpaid: durations after the expiry, e.g. 2m,10m,60m'),
  KASPI_QR_DEADLINE_GRACE_MS: int(0, 600_000).describe(
    'a purchase is expired this long after its scan/confirm deadline (after one last status call)',
  ),
  KASPI_QR_TEST_MODE: bool.describe('allows the test/payment/* emulation calls (never in production)'),
  KASPI_QR_MERCHANT_NAME: z.string().min(1).max(100).describe('merchant name shown on the pay page'),
  PUBLIC_BASE_URL: z
    .string()
    .url()
    .optional()
    .describe('public origin of the pay pages; default http://HOST:PORT'),
};

export const KASPI_QR_DEFAULTS: Record<string, string> = {
  KASPI_QR_TIMEOUT_MS: '10000',
  KASPI_QR_POLL_CRON: '*/2 * * * * *',
  KASPI_QR_LATE_CHECKS: '2m,10m,60m',
  KASPI_QR_DEADLINE_GRACE_MS: '30000',
  KASPI_QR_TEST_MODE: 'false',
  KASPI_QR_MERCHANT_NAME: 'Merchant',
};

type KaspiQrKeys = z.infer<z.ZodObject<typeof KASPI_QR_SCHEMA>>;

/** "2m,10m,60m" → [120000, 600000, 3600000]; null when any part is not a duration. */
export function parseLateChecks(text: string): number[] | null {
  const unit: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };
  const out: number[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const m = /^(\d{1,6})([smh])$/.exec(part);
    if (!m) return null;
    out.push(Number(m[1]) * (unit[m[2] as string] as number));
  }
  return out;
}

/** Problems across Kaspi QR keys, each naming the key; empty when it is off or fine. */
export function kaspiQrProblems(c: KaspiQrKeys, nodeEnv: string): string[] {
  const p: string[] = [];
  if (!cron.validate(c.KASPI_QR_POLL_CRON)) p.push('KASPI_QR_POLL_CRON: not a cron expression');
  if (parseLateChecks(c.KASPI_QR_LATE_CHECKS) === null)
    p.push('KASPI_QR_LATE_CHECKS: durations with s, m or h, comma-separated (2m,10m,60m)');
  if (c.PUBLIC_BASE_URL && !/^https?:\/\//.test(c.PUBLIC_BASE_URL))
    p.push('PUBLIC_BASE_URL: must be an http(s) origin');
  const scheme = c.KASPI_QR_SCHEME;
  if (!scheme) return p;
  if (!c.KASPI_QR_BASE_URL) p.push('KASPI_QR_BASE_URL is required with KASPI_QR_SCHEME');
  else {
    const u = new URL(c.KASPI_QR_BASE_URL);
    // Server verification is never off: there is no plain-HTTP Kaspi QR, in any environment.
    if (u.protocol !== 'https:')
      p.push('KASPI_QR_BASE_URL: must be https: (server verification is always on)');
  }
  if (scheme === 'r1') {
    if (!c.KASPI_QR_API_KEY) p.push('KASPI_QR_API_KEY is required with KASPI_QR_SCHEME=r1');
    if (c.KASPI_QR_CERT_FILE || c.KASPI_QR_KEY_FILE || c.KASPI_QR_PFX_FILE)
      p.push('KASPI_QR_CERT_FILE/KEY_FILE/PFX_FILE: r1 authenticates by Api-Key, not by certificate');
  } else {
    if (c.KASPI_QR_API_KEY) p.push(`KASPI_QR_API_KEY: not used with ${scheme} (a client certificate is)`);
    const pem = Boolean(c.KASPI_QR_CERT_FILE) || Boolean(c.KASPI_QR_KEY_FILE);
    if (pem && c.KASPI_QR_PFX_FILE)
      p.push('KASPI_QR_PFX_FILE: give the PFX or KASPI_QR_CERT_FILE + KASPI_QR_KEY_FILE, not both');
    else if (!c.KASPI_QR_PFX_FILE && !(c.KASPI_QR_CERT_FILE && c.KASPI_QR_KEY_FILE))
      p.push(`KASPI_QR_CERT_FILE and KASPI_QR_KEY_FILE (or KASPI_QR_PFX_FILE) are required with ${scheme}`);
  }
  if (scheme === 'r3' && !c.KASPI_QR_ORGANIZATION_BIN)
    p.push('KASPI_QR_ORGANIZATION_BIN is required with KASPI_QR_SCHEME=r3');
  if (nodeEnv === 'production' && c.KASPI_QR_TEST_MODE) p.push('KASPI_QR_TEST_MODE: never in production');
  if (Boolean(c.KASPI_QR_TRADE_POINT_ID) !== Boolean(c.KASPI_QR_DEVICE_ID))
    p.push('KASPI_QR_TRADE_POINT_ID and KASPI_QR_DEVICE_ID: set both (registered at start) or neither');
  return p;
}
