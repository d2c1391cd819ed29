import supertest from 'supertest';
import { loadConfig, type Config, type ConfigKey } from '../../src/config/config.js';
import { buildGateway, type Gateway, type Overrides } from '../../src/wiring/wiring.js';
import { createTestDatabase, type DbKind, type TestDatabase } from './databases.js';

export interface TestGateway {
  gateway: Gateway;
  config: Config;
  database: TestDatabase;
  /** supertest on the public app (in-process, ephemeral port) */
  api: () => supertest.Agent;
  /** supertest on the admin app */
  admin: () => supertest.Agent;
  close(): Promise<void>;
}

export type ConfigOverrides = Partial<Record<ConfigKey, string | number | boolean>>;

/** A gateway on a fresh database of the given kind, with test settings and any overrides. */
export async function startTestGateway(
  kind: DbKind,
  config: ConfigOverrides = {},
  overrides: Overrides = {},
  database?: TestDatabase,
): Promise<TestGateway> {
  const db = database ?? (await createTestDatabase(kind));
  const cfg = loadConfig({
    env: {},
    configDir: '/nonexistent',
    overrides: {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      PORT: 0,
      ADMIN_PORT: 0,
      HOST: '127.0.0.1',
      KASPI_ALLOWED_IPS: '127.0.0.0/8,::1/128',
      ADMIN_API_KEY: 'test-admin-key-0123456789',
      LOG_LEVEL: 'error',
      ...config,
    },
  });
  const gateway = await buildGateway(cfg, overrides);
  return {
    gateway,
    config: cfg,
    database: db,
    api: () => supertest.agent(gateway.app),
    admin: () => supertest.agent(gateway.adminApp),
    async close() {
      await gateway.stop();
      if (!database) await db.drop();
    },
  };
}
