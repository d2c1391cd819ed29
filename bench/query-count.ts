import http from 'node:http';
import { loadConfig } from '../src/config/config.js';
import { buildGateway } from '../src/wiring/wiring.js';
import { pathMaker, txnIds } from './load.js';

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/**
 * How many statements one call costs, counted with knex's 'query' event on an in-process gateway
 * plus the one-call procedure's calls (request log included: it is flushed before counting stops).
 * Calls one at a time, so a pay's procedure call carries that pay alone: under load it is shared.
 */
export async function countQueries(
  databaseUrl: string,
  accounts: number,
  calls = 50,
): Promise<Record<'pay' | 'check', number>> {
  const config = loadConfig({
    env: {},
    configDir: '/nonexistent',
    overrides: {
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      PORT: 0,
      ADMIN_PORT: 0,
      HOST: '127.0.0.1',
      KASPI_ALLOWED_IPS: '127.0.0.0/8',
      LOG_LEVEL: 'error',
    },
  });
  const g = await buildGateway(config);
  const { port } = await g.start();
  const out = { pay: 0, check: 0 };
  try {
    const next = txnIds('7');
    for (const endpoint of ['pay', 'check'] as const) {
      const path = pathMaker(endpoint, accounts, next);
      await get(port, path()); // warm: pool connected, statements seen once
      await g.stores.requestLog.flush();
      let n = 0;
      const onQuery = () => n++;
      // The one call goes to the pool's connection without knex's runner: counted from its own stats.
      const oneCalls = g.stores.oneCall.stats.calls;
      g.db.knex.on('query', onQuery);
      for (let i = 0; i < calls; i++) await get(port, path());
      await g.stores.requestLog.flush();
      g.db.knex.off('query', onQuery);
      out[endpoint] = (n + g.stores.oneCall.stats.calls - oneCalls) / calls;
    }
  } finally {
    await g.stop();
  }
  return out;
}
