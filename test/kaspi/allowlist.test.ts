import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { newTxnId } from '../support/kaspi.js';

const KASPI = '194.187.247.152';

describe.each(dbKinds)('[%s] who may call the Kaspi path', (kind) => {
  const gateways: TestGateway[] = [];
  afterAll(() => Promise.all(gateways.map((g) => g.close())));
  const start = async (cfg: Record<string, string>) => {
    const g = await startTestGateway(kind, cfg);
    gateways.push(g);
    return g;
  };
  const checkUrl = () => `/payment_app.cgi?command=check&txn_id=${newTxnId()}&account=1&sum=1.00`;

  it('when the caller is outside the allowlist, then a bare 403 with no XML, and it is logged', async () => {
    const g = await start({ KASPI_ALLOWED_IPS: `${KASPI}/32` });
    const res = await g.api().get(checkUrl());
    expect(res.status).toBe(403);
    expect(res.text).toBe('Forbidden');
    await g.gateway.stores.requestLog.flush();
    const [row] = await g.gateway.db.knex('request_log').where({ http_status: 403 });
    expect(row).toBeDefined();
  });

  it('when X-Forwarded-For claims Kaspi but no proxy is configured, then it is ignored: 403', async () => {
    const g = await start({ KASPI_ALLOWED_IPS: `${KASPI}/32`, TRUST_PROXY: 'false' });
    const res = await g.api().get(checkUrl()).set('X-Forwarded-For', KASPI);
    expect(res.status).toBe(403);
  });

  it('when the configured proxy (loopback) forwards for Kaspi, then the call is allowed', async () => {
    const g = await start({ KASPI_ALLOWED_IPS: `${KASPI}/32`, TRUST_PROXY: 'loopback' });
    const ok = await g.api().get(checkUrl()).set('X-Forwarded-For', KASPI);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('<result>');
    const other = await g.api().get(checkUrl()).set('X-Forwarded-For', '10.1.2.3');
    expect(other.status).toBe(403);
    const ipv4Mapped = await g.api().get(checkUrl()).set('X-Forwarded-For', `::ffff:${KASPI}`);
    expect(ipv4Mapped.status).toBe(200);
  });

  it('when the allowlist names 127.0.0.1/32, then the loopback caller seen as ::ffff:127.0.0.1 is allowed', async () => {
    const g = await start({ KASPI_ALLOWED_IPS: '127.0.0.1/32' });
    expect((await g.api().get(checkUrl())).status).toBe(200);
  });

  it('when the allowlist names only IPv6 ranges, then an IPv4 caller is refused', async () => {
    const g = await start({ KASPI_ALLOWED_IPS: '2001:db8::/32' });
    expect((await g.api().get(checkUrl())).status).toBe(403);
  });
});
