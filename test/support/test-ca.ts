import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A test CA made during the run with openssl (nothing is committed): a server certificate for
 * 127.0.0.1, a client certificate from the same CA (encrypted PEM key, a modern PFX and, when the
 * local OpenSSL can still write one, a legacy RC2 PFX), and a foreign CA with its own client and
 * server certificates, which the fake (and our client) must refuse.
 */
export interface TestCerts {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  passphrase: string;
  clientPfx: string;
  /** null when this OpenSSL cannot write the legacy format. */
  legacyPfx: string | null;
  foreignCaFile: string;
  foreignClientCert: string;
  foreignClientKey: string;
  foreignServerCert: string;
  foreignServerKey: string;
  /** Makes another client certificate of the test CA (for rotation), expiring in `days`. */
  newClient(name: string, days: number): { cert: string; key: string };
}

let cached: TestCerts | undefined;

function ssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ecKey(dir: string, out: string, passphrase?: string): void {
  const enc = passphrase ? ['-aes-256-cbc', '-pass', `pass:${passphrase}`] : [];
  ssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', ...enc, '-out', out);
}

function ca(dir: string, name: string, cn: string): void {
  ecKey(dir, `${name}.key`);
  ssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-days',
    '30',
    '-subj',
    `/CN=${cn}`,
    '-out',
    `${name}.pem`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
}

function signed(
  dir: string,
  caName: string,
  name: string,
  subj: string,
  ext: string,
  days: number,
  passphrase?: string,
): void {
  ecKey(dir, `${name}.key`, passphrase);
  const pass = passphrase ? ['-passin', `pass:${passphrase}`] : [];
  ssl(dir, 'req', '-new', '-key', `${name}.key`, ...pass, '-subj', subj, '-out', `${name}.csr`);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  ssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${caName}.pem`,
    '-CAkey',
    `${caName}.key`,
    '-CAcreateserial',
    '-days',
    String(days),
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  );
}

/** The client certificate and its key as one PKCS#12 file, under the key's passphrase. */
function pfx(dir: string, out: string, passphrase: string, flags: string[] = []): void {
  const pass = `pass:${passphrase}`;
  ssl(
    dir,
    'pkcs12',
    '-export',
    ...flags,
    '-in',
    'client.pem',
    '-inkey',
    'client.key',
    '-passin',
    pass,
    '-out',
    out,
    '-passout',
    pass,
  );
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n';

export function testCerts(): TestCerts {
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kaspi-qr-ca-'));
  const passphrase = 'test-key-passphrase-7f3a';
  ca(dir, 'ca', 'Test Kaspi Root CA');
  signed(dir, 'ca', 'server', '/CN=127.0.0.1', SERVER_EXT, 30);
  // A year: the default client must not trip the 30-day expiry WARN (certificate-metrics makes its own short one).
  signed(dir, 'ca', 'client', '/C=KZ/O=Test Partner/CN=127.0.0.1', CLIENT_EXT, 365, passphrase);
  pfx(dir, 'client.pfx', passphrase);
  let legacyPfx: string | null = path.join(dir, 'client-legacy.pfx');
  try {
    pfx(dir, 'client-legacy.pfx', passphrase, ['-legacy']);
  } catch {
    // OpenSSL without the legacy provider: the legacy-PFX test has nothing to read.
    legacyPfx = null;
  }
  ca(dir, 'foreign', 'Foreign Root CA');
  signed(dir, 'foreign', 'foreign-client', '/CN=intruder', CLIENT_EXT, 20);
  signed(dir, 'foreign', 'foreign-server', '/CN=127.0.0.1', SERVER_EXT, 20);
  const f = (n: string) => path.join(dir, n);
  cached = {
    dir,
    caFile: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    passphrase,
    clientPfx: f('client.pfx'),
    legacyPfx,
    foreignCaFile: f('foreign.pem'),
    foreignClientCert: f('foreign-client.pem'),
    foreignClientKey: f('foreign-client.key'),
    foreignServerCert: f('foreign-server.pem'),
    foreignServerKey: f('foreign-server.key'),
    newClient(name: string, days: number) {
      signed(dir, 'ca', name, `/C=KZ/O=Test Partner/CN=${name}`, CLIENT_EXT, days, passphrase);
      return { cert: f(`${name}.pem`), key: f(`${name}.key`) };
    },
  };
  return cached;
}
