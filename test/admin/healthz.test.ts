import { dbKinds } from '../support/databases.js';
import { startTestGateway } from '../support/gateway.js';

describe.each(dbKinds)('[%s] admin /healthz', (kind) => {
  it('when the database answers, then 200; when it is gone, then 503', async () => {
    const t = await startTestGateway(kind);
    try {
      const ok = await t.admin().get('/healthz');
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ status: 'ok', database: 'up' });
      await t.gateway.db.knex.destroy();
      const down = await t.admin().get('/healthz');
      expect(down.status).toBe(503);
      expect(down.body.status).toBe('unavailable');
    } finally {
      await t.database.drop();
    }
  });

  it('when the admin listener gets an unknown path, then JSON 404, never HTML', async () => {
    const t = await startTestGateway(kind);
    try {
      const res = await t.admin().get('/nope');
      expect(res.status).toBe(404);
      expect(res.text).not.toMatch(/<html/i);
    } finally {
      await t.close();
    }
  });
});
