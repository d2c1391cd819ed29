import { parseValidTo, readRefundAnswer, refundRequestBody } from '../../src/refunds/refund-api-client.js';

describe('Refund API wire format', () => {
  it('when an 18-digit PaymentId is written, then it is a bare integer, digit for digit', () => {
    const body = refundRequestBody({
      paymentId: '987654321098765432',
      returnAmount: 12345,
      refundIdentificator: 'abc-1',
      reason: 'Возврат "частичный"',
    });
    expect(body).toBe(
      '{"PaymentId":987654321098765432,"ReturnAmount":12345,"RefundIdentificator":"abc-1","Reason":"Возврат \\"частичный\\""}',
    );
    // The same through a JS number would have lost digits.
    expect(String(Number('987654321098765432'))).not.toBe('987654321098765432');
  });

  it('when a PaymentId is not a 64-bit integer or the amount is not whole, then nothing is written', () => {
    const base = { returnAmount: 1, refundIdentificator: 'x', reason: 'r' };
    expect(() => refundRequestBody({ ...base, paymentId: '9223372036854775808' })).toThrow(/64-bit/);
    expect(() => refundRequestBody({ ...base, paymentId: '12a' })).toThrow();
    expect(() => refundRequestBody({ ...base, paymentId: '1', returnAmount: 1.5 })).toThrow(/whole/);
    expect(() => refundRequestBody({ ...base, paymentId: '1', returnAmount: 0 })).toThrow(/whole/);
  });

  it('when error 4 comes with statusCode 1, then error.code is what is read', () => {
    const a = readRefundAnswer(
      200,
      '{"statusCode":1,"error":{"code":4,"errorMessage":"Заявка уже существует. Проверьте статус"},"requestIdentificator":"414e2f7a-356d-4d0b-91f0-a3cf34717f2e"}',
    );
    expect(a).toEqual({
      httpStatus: 200,
      statusCode: 1,
      errorCode: 4,
      errorMessage: 'Заявка уже существует. Проверьте статус',
      requestIdentificator: '414e2f7a-356d-4d0b-91f0-a3cf34717f2e',
    });
  });

  it('when the answer is PascalCase or has no error, then it is read the same', () => {
    expect(readRefundAnswer(200, '{"StatusCode":0,"RequestIdentificator":"r1"}')).toMatchObject({
      statusCode: 0,
      errorCode: null,
      requestIdentificator: 'r1',
    });
    expect(readRefundAnswer(200, '{"statusCode":2,"error":null}')).toMatchObject({
      statusCode: 2,
      errorCode: null,
    });
    expect(readRefundAnswer(200, '{"statusCode":3,"error":{"code":-2}}')).toMatchObject({
      statusCode: 3,
      errorCode: -2,
      errorMessage: null,
    });
  });

  it('when the answer is not a Refund answer, then it is refused, not guessed', () => {
    for (const text of [
      '',
      '{"statusCode": ',
      '[]',
      '{"statusCode":"0"}',
      '{"statusCode":1.5}',
      '{"message":"x"}',
      '{"statusCode":1,"error":{"errorMessage":"no code"}}',
      '{"statusCode":1,"error":"4"}',
      '<html></html>',
    ]) {
      expect(readRefundAnswer(200, text)).toBeNull();
    }
  });

  it('when validTo has microseconds and an offset, then it is read as the right instant', () => {
    expect(parseValidTo('2020-03-19T18:05:07.902529+06:00')?.toISOString()).toBe('2020-03-19T12:05:07.902Z');
    expect(parseValidTo('2020-03-19T18:05:07Z')?.toISOString()).toBe('2020-03-19T18:05:07.000Z');
    expect(parseValidTo('tomorrow')).toBeNull();
  });
});
