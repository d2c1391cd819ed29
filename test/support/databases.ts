import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';

export type DbKind = 'sqlite' | 'mysql';

/**
 * SQLite always; MySQL when TEST_DATABASE_URL is set (CI sets it). Each test file gets a database
 * of its own, created here and dropped at the end, so files never see each other's data.
 */
export const dbKinds: DbKind[] = process.env.TEST_DATABASE_URL ? ['sqlite', 'mysql'] : ['sqlite'];

if (process.env.CI === 'true' && !process.env.TEST_DATABASE_URL) {
  throw new Error('CI must test MySQL too: set TEST_DATABASE_URL=mysql://root@127.0.0.1:3306/test');
}

export interface TestDatabase {
  kind: DbKind;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(kind: DbKind): Promise<TestDatabase> {
  const tag = `${process.pid}_${randomBytes(4).toString('hex')}`;
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-test-'));
    const file = path.join(dir, `gw_${tag}.sqlite`);
    return {
      kind,
      url: `sqlite:${file}`,
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const base = new URL(process.env.TEST_DATABASE_URL as string);
  const name = `gw_t_${tag}`;
  const admin = knexFactory({
    client: 'mysql2',
    connection: {
      host: base.hostname,
      port: Number(base.port || 3306),
      user: decodeURIComponent(base.username),
      password: decodeURIComponent(base.password),
    },
    pool: { min: 0, max: 1 },
  });
  try {
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(base.href);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.href,
    drop: async () => {
      const k = knexFactory({
        client: 'mysql2',
        connection: {
          host: base.hostname,
          port: Number(base.port || 3306),
          user: decodeURIComponent(base.username),
          password: decodeURIComponent(base.password),
        },
        pool: { min: 0, max: 1 },
      });
      try {
        await k.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await k.destroy();
      }
    },
  };
}
