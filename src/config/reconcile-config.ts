import cron from 'node-cron';
import { z } from 'zod';

/**
 * Reconciliation settings (shared/spec/reconciliation.md, registries-seed-notes §1.9
 * "Configuration"): the keys config.ts merges into its schema, their defaults, and the checks
 * across keys.
 */

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const RECONCILE_SCHEMA = {
  RECONCILE_PROFILE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .describe('registry profile used when none is named'),
  RECONCILE_PROFILES_DIR: z.string().min(1).describe('folder of registry profiles (JSON header aliases)'),
  RECONCILE_SOURCES: z
    .string()
    .regex(/^(kaspi|kaspi_qr)(,(kaspi|kaspi_qr))*$/)
    .describe('payment sources Kaspi settles by its registry (comma-separated); JetPay never'),
  RECONCILE_CUTOFF: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/)
    .describe("registry day cut-off HH:MM in Kaspi time: 18:00 makes day D's window [D-1 18:00, D 18:00)"),
  RECONCILE_GRACE_BUSINESS_DAYS: int(0, 30).describe(
    'business days a watch item (MISSING_KASPI, ...) waits for a later registry before it needs a person',
  ),
  RECONCILE_HOLIDAYS: z
    .string()
    .regex(/^(\d{4}-\d{2}-\d{2}(,\d{4}-\d{2}-\d{2})*)?$/)
    .describe('non-business days YYYY-MM-DD, comma-separated (weekends are never business days)'),
  RECONCILE_EXPECT_DAILY: bool.describe(
    'warn when no registry covers a business day by the end of the next one',
  ),
  RECONCILE_COMMISSION_PERCENT: z
    .string()
    .regex(/^(\d{1,2}(\.\d{1,4})?)?$/)
    .describe(
      "Kaspi's commission in percent (e.g. 1.95): a registry row's commission off by more than 1 tiyn is COMMISSION_RATE; empty = off",
    ),
  RECONCILE_MAX_FILE_BYTES: int(1024, 16 * 1024 * 1024).describe('largest registry file accepted (bytes)'),
  RECONCILE_MAX_ROWS: int(1, 1_000_000).describe('most rows in a registry'),
  RECONCILE_MAX_UNZIPPED_BYTES: int(1024 * 1024, 2 * 1024 * 1024 * 1024).describe(
    'an xlsx that unzips to more than this is refused before it is parsed (zip bomb)',
  ),
  RECONCILE_WATCH_CRON: z.string().describe('cron of the reconcile watch job (one runner, under a lease)'),
};

export const RECONCILE_DEFAULTS: Record<string, string> = {
  RECONCILE_PROFILE: 'kaspi-default',
  RECONCILE_PROFILES_DIR: 'config/registry-profiles',
  RECONCILE_SOURCES: 'kaspi',
  RECONCILE_CUTOFF: '00:00',
  RECONCILE_GRACE_BUSINESS_DAYS: '3',
  RECONCILE_HOLIDAYS: '',
  RECONCILE_EXPECT_DAILY: 'false',
  RECONCILE_COMMISSION_PERCENT: '',
  RECONCILE_MAX_FILE_BYTES: String(10 * 1024 * 1024),
  RECONCILE_MAX_ROWS: '200000',
  RECONCILE_MAX_UNZIPPED_BYTES: String(200 * 1024 * 1024),
  RECONCILE_WATCH_CRON: '17 * * * *',
};

export function reconcileProblems(c: { RECONCILE_WATCH_CRON: string }): string[] {
  return cron.validate(c.RECONCILE_WATCH_CRON) ? [] : ['RECONCILE_WATCH_CRON: not a cron expression'];
}
