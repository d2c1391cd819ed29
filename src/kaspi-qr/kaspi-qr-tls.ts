import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { ConfigError } from '../config/config.js';
import type { Scheme } from './kaspi-qr-methods.js';

/**
 * The TLS side of Kaspi QR: the client certificate (PEM + possibly encrypted key, or PFX) and
 * Kaspi's CA bundle, read from files so a new certificate or passphrase never needs a code change
 * (re-read on SIGHUP). Server verification is always on: there is no switch to turn it off.
 */

export interface TlsFiles {
  scheme: Scheme;
  certFile?: string;
  keyFile?: string;
  pfxFile?: string;
  passphrase?: string;
  caFile?: string;
}

export interface CertInfo {
  subject: string;
  issuer: string;
  validTo: Date;
  fingerprint256: string;
  /** Which file it came from, for messages. */
  file: string;
}

export interface TlsMaterial {
  cert?: Buffer;
  key?: Buffer;
  pfx?: Buffer;
  passphrase?: string;
  ca?: Buffer;
  info: CertInfo | null;
}

export const LEGACY_PFX_HINT =
  'this PFX uses legacy encryption (RC2-40) that OpenSSL 3 refuses; convert it once: ' +
  '`openssl pkcs12 -legacy -in old.pfx -out tmp.pem -nodes && openssl pkcs12 -export -in tmp.pem -out new.pfx` ' +
  '(then delete tmp.pem), or give the PEM pair with KASPI_QR_CERT_FILE + KASPI_QR_KEY_FILE';

function read(file: string, key: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError([`${key}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
}

function describeName(text: string): string {
  return text.split('\n').join(', ');
}

/** Reads and checks the files now: a wrong passphrase or an unreadable PFX is a start-up error. */
export function loadTlsMaterial(f: TlsFiles): TlsMaterial {
  const ca = f.caFile ? read(f.caFile, 'KASPI_QR_CA_FILE') : undefined;
  if (ca) {
    try {
      tls.createSecureContext({ ca });
    } catch (e) {
      throw new ConfigError([
        `KASPI_QR_CA_FILE: ${f.caFile} is not a PEM CA bundle (${(e as Error).message})`,
      ]);
    }
  }
  if (f.scheme === 'r1') return { ca, info: null };
  const m: TlsMaterial = { ca, passphrase: f.passphrase, info: null };
  let source: string;
  let keyName: string;
  if (f.pfxFile) {
    m.pfx = read(f.pfxFile, 'KASPI_QR_PFX_FILE');
    source = f.pfxFile;
    keyName = 'KASPI_QR_PFX_FILE';
  } else {
    m.cert = read(f.certFile as string, 'KASPI_QR_CERT_FILE');
    m.key = read(f.keyFile as string, 'KASPI_QR_KEY_FILE');
    source = f.certFile as string;
    keyName = 'KASPI_QR_KEY_FILE';
  }
  let ctx: tls.SecureContext;
  try {
    ctx = tls.createSecureContext({ cert: m.cert, key: m.key, pfx: m.pfx, passphrase: m.passphrase });
  } catch (e) {
    const msg = (e as Error).message;
    if (/Unsupported PKCS12 PFX data/i.test(msg))
      throw new ConfigError([`${keyName}: ${f.pfxFile}: ${LEGACY_PFX_HINT}`]);
    if (/bad decrypt|mac verify failure|bad password|wrong password/i.test(msg))
      throw new ConfigError([
        `KASPI_QR_KEY_PASSPHRASE: does not open ${f.pfxFile ?? f.keyFile} (wrong passphrase)`,
      ]);
    if (/key values mismatch/i.test(msg))
      throw new ConfigError([`KASPI_QR_KEY_FILE: ${f.keyFile} is not the key of ${f.certFile}`]);
    throw new ConfigError([`${keyName}: ${source}: ${msg}`]);
  }
  m.info = certInfo(ctx, source);
  return m;
}

/** Subject, issuer and expiry of the certificate a secure context presents. */
function certInfo(ctx: tls.SecureContext, file: string): CertInfo | null {
  const s = new tls.TLSSocket(new net.Socket(), { secureContext: ctx });
  try {
    const c = s.getCertificate() as tls.PeerCertificate | null;
    if (!c || !('raw' in c) || !c.raw) return null;
    const x = new X509Certificate(c.raw);
    return {
      subject: describeName(x.subject),
      issuer: describeName(x.issuer),
      validTo: new Date(x.validTo),
      fingerprint256: x.fingerprint256,
      file,
    };
  } finally {
    s.destroy();
  }
}

/** One keep-alive agent per configuration; a reload builds a new one and the old drains. */
export function createAgent(m: TlsMaterial, timeoutMs: number): https.Agent {
  return new https.Agent({
    keepAlive: true,
    maxSockets: 16,
    timeout: timeoutMs,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    ca: m.ca,
    cert: m.cert,
    key: m.key,
    pfx: m.pfx,
    passphrase: m.passphrase,
  });
}

/** Node's TLS error codes: a failure of the handshake (our certificate refused, theirs not trusted). */
export function isTlsError(e: NodeJS.ErrnoException): boolean {
  const code = e.code ?? '';
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.includes('CERT') ||
    code === 'EPROTO' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    /alert|handshake|certificate/i.test(e.message)
  );
}
