import { boundaryOf, parseMultipart } from '../../src/console/multipart.js';

const CT = 'multipart/form-data; boundary=----x7MA4YWxkTrZu0gW';

function body(parts: string[], close = true): Buffer {
  return Buffer.from(
    `${parts.map((p) => `------x7MA4YWxkTrZu0gW\r\n${p}\r\n`).join('')}${close ? '------x7MA4YWxkTrZu0gW--\r\n' : ''}`,
    'latin1',
  );
}

describe('the registry upload multipart reader', () => {
  it('when a browser sends the form, then the text fields and the file bytes come back exactly', () => {
    const csv = '№ платежа;Сумма\r\n123;1 500,00\r\n';
    const b = Buffer.concat([
      body(
        [
          'Content-Disposition: form-data; name="_csrf"\r\n\r\ntok-123',
          'Content-Disposition: form-data; name="from"\r\n\r\n2026-11-23',
        ],
        false,
      ),
      Buffer.from(
        '------x7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name="registry"; filename="reestr \\"23\\".csv"\r\nContent-Type: text/csv\r\n\r\n',
      ),
      Buffer.from(csv, 'utf8'),
      Buffer.from('\r\n------x7MA4YWxkTrZu0gW--\r\n'),
    ]);
    const m = parseMultipart(b, CT);
    expect(m?.fields).toEqual({ _csrf: 'tok-123', from: '2026-11-23' });
    expect(m?.files).toHaveLength(1);
    expect(m?.files[0]?.fileName).toBe('reestr "23".csv');
    expect(m?.files[0]?.data.toString('utf8')).toBe(csv);
  });

  it('when the body is not the multipart it claims to be, then null (nothing read half-way)', () => {
    expect(boundaryOf('application/x-www-form-urlencoded')).toBeNull();
    expect(boundaryOf('multipart/form-data')).toBeNull();
    expect(boundaryOf('multipart/form-data; boundary="abc"')).toBe('abc');
    expect(parseMultipart(Buffer.from('garbage'), CT)).toBeNull();
    // No closing delimiter: a cut upload.
    expect(parseMultipart(body(['Content-Disposition: form-data; name="a"\r\n\r\n1'], false), CT)).toBeNull();
    // A part without a name.
    expect(parseMultipart(body(['Content-Disposition: form-data\r\n\r\n1']), CT)).toBeNull();
    // More parts than any form of ours has.
    const many = Array.from(
      { length: 30 },
      (_, i) => `Content-Disposition: form-data; name="f${i}"\r\n\r\nv`,
    );
    expect(parseMultipart(body(many), CT)).toBeNull();
  });
});
