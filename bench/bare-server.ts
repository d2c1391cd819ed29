/**
 * The yardstick: Express answering a fixed Kaspi-like XML string, nothing else. The gateway's
 * throughput is reported as a ratio to this, measured in the same run on the same machine.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { serve } from './cluster.js';

const BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <txn_id>1</txn_id>\n  <prv_txn>1</prv_txn>\n' +
  '  <sum>1.00</sum>\n  <result>0</result>\n  <comment>OK</comment>\n</response>\n';

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/payment_app.cgi', (_req, res) => {
  res.status(200).type('text/xml; charset=utf-8').send(BODY);
});

const server = http.createServer(app);
await serve(
  () =>
    new Promise((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        resolve({ port: (server.address() as AddressInfo).port, adminPort: 0 });
      });
    }),
  () => new Promise((resolve) => server.close(() => resolve())),
);
