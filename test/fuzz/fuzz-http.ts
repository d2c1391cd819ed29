import http from 'node:http';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * A keep-alive HTTP client for fuzzing a listening gateway: raw paths go out as they are (Node
 * only refuses spaces and control characters in a path), many requests share a few sockets.
 */
export function fuzzClient(port: number, sockets = 8) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const send = (
    path: string,
    opts: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ) =>
    new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent, headers: opts.headers },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }),
          );
        },
      );
      req.setTimeout(15000, () => req.destroy(new Error(`no answer in 15 s for ${path.slice(0, 200)}`)));
      req.on('error', reject);
      req.end(opts.body);
    });
  return { send, close: () => agent.destroy() };
}

/** Every byte of the UTF-8 form as %XX: safe for any string, lone surrogates included. */
export function pct(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false });

export interface KaspiAnswer {
  txn_id?: string;
  prv_txn?: string;
  sum?: string;
  result: string;
  comment: string;
}

/** A Kaspi answer as Kaspi would read it; throws with the body when it is not one. */
export function readKaspiAnswer(res: { status: number; type: string; body: string }): KaspiAnswer {
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
  if (res.type !== 'text/xml; charset=utf-8') throw new Error(`content type ${res.type}`);
  const valid = XMLValidator.validate(res.body);
  if (valid !== true) throw new Error(`not well-formed XML (${JSON.stringify(valid.err)}): ${res.body}`);
  const doc = parser.parse(res.body) as { response?: KaspiAnswer };
  const a = doc.response;
  if (!a || typeof a.result !== 'string' || !/^[0-5]$/.test(a.result))
    throw new Error(`no result 0..5: ${res.body}`);
  if (typeof a.comment !== 'string' || a.comment.length === 0) throw new Error(`no comment: ${res.body}`);
  if (/\bat .+:\d+|select |insert |update |stack|Error:/i.test(a.comment))
    throw new Error(`leaky comment: ${a.comment}`);
  if (a.txn_id !== undefined && !/^\d{1,18}$/.test(a.txn_id))
    throw new Error(`txn_id echoed raw: ${a.txn_id}`);
  return a;
}
