import { sign, signatureMatches, stringToSign } from '../../src/jetpay/jetpay-signature.js';
import { dbKinds } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import {
  captureLogs,
  gateSignature,
  gateStringToSign,
  jsonText,
  postJetpay,
  seen,
  type Value,
  signatureVectors,
  type SignatureVector,
} from '../support/jetpay.js';

const vectors = signatureVectors;
const cases = vectors.map((v, i) => [`#${i} ${v.source.slice(0, 70)}`, v] as const);

describe('JetPay signature: the published vectors', () => {
  it('when the fixture is read, then it holds the 14 vectors', () => {
    expect(vectors).toHaveLength(14);
  });

  it.each(cases)('when signing vector %s, then the string to sign and the signature match it', (_name, v) => {
    expect(stringToSign(v.params)).toBe(v.string_to_sign);
    expect(sign(v.params, v.secret)).toBe(v.signature);
    expect(signatureMatches(v.params, v.secret, v.signature)).toBe(true);
  });

  it.each(cases)("when the tests' own signer signs vector %s, then it agrees with the vector", (_name, v) => {
    expect(gateStringToSign(v.params)).toBe(v.string_to_sign);
    expect(gateSignature(v.params, v.secret)).toBe(v.signature);
  });

  it('when a signature differs by one character or in length, then it does not match', () => {
    const v = vectors[0] as SignatureVector;
    const last = v.signature.at(-3) === 'A' ? 'B' : 'A';
    expect(
      signatureMatches(v.params, v.secret, `${v.signature.slice(0, -3)}${last}${v.signature.slice(-2)}`),
    ).toBe(false);
    expect(signatureMatches(v.params, v.secret, v.signature.slice(0, -2))).toBe(false);
    expect(signatureMatches(v.params, 'other secret', v.signature)).toBe(false);
  });

  it('when array indexes reach 10, then they sort as numbers (2 before 10), as the PHP SDK does', () => {
    const params = { list: Array.from({ length: 12 }, (_, i) => `v${i}`) };
    expect(stringToSign(params)).toBe(gateStringToSign(params));
    expect(stringToSign(params).split(';').slice(1, 3)).toEqual(['list:1:v1', 'list:2:v2']);
  });

  it('when keys hold a colon, sit at several depths or are signature/frame_mode, then they are escaped or left out', () => {
    const params = {
      'a:b': { signature: 'x', c: [true, false, null], frame_mode: 'popup' },
      a: 'z',
      signature: 'y',
    };
    expect(stringToSign(params)).toBe('a:z;a::b:c:0:1;a::b:c:1:0;a::b:c:2:');
    expect(stringToSign(params)).toBe(gateStringToSign(params));
  });
});

describe.each(dbKinds)('[%s] JetPay signature: the vectors through HTTP', (kind) => {
  const secrets = [...new Set(vectors.map((v) => v.secret))];
  const gateways = new Map<string, TestGateway>();

  beforeAll(async () => {
    captureLogs(); // quiet: the tampered copies log WARNs
    for (const secret of secrets) {
      gateways.set(
        secret,
        await startTestGateway(kind, { JETPAY_PROJECT_ID: '999000999', JETPAY_SECRET: secret }),
      );
    }
  });
  afterAll(async () => {
    for (const g of gateways.values()) await g.close();
  });

  /** The vector's body with its signature where Gate puts it: in `general` when there is one. */
  function body(v: SignatureVector, signature: string): string {
    const general = v.params.general;
    if (general !== undefined && typeof general === 'object' && general !== null && !Array.isArray(general)) {
      return jsonText({ ...v.params, general: { ...(general as Record<string, Value>), signature } });
    }
    return jsonText({ ...v.params, signature });
  }

  it.each(cases)(
    'when vector %s is posted as a callback, then its signature is accepted and a tampered copy is not',
    async (_name, v) => {
      const api = (gateways.get(v.secret) as TestGateway).api();
      const ok = await postJetpay(api, '/jetpay/callback', body(v, v.signature));
      // Accepted by signature; then refused for what a vector is not: a callback of this project.
      expect([ok.status, ok.body.code]).toEqual([400, 400]);
      expect(ok.body.message).not.toMatch(/signature/i);

      const tampered = await postJetpay(
        api,
        '/jetpay/callback',
        body({ ...v, params: { ...v.params, extra_leaf: 'x' } }, v.signature),
      );
      expect(seen(tampered)).toEqual({ http: 400, code: 400, message: 'Invalid signature' });
    },
  );
});
