import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Passwords are kept as scrypt hashes (memory-hard: a GPU farm pays in memory for every guess):
 * `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`. N = 2^15, r = 8 is 32 MiB and about 0.1 s a check,
 * OWASP's floor for scrypt; the parameters travel with the hash, so raising them later still
 * verifies the old ones.
 */
const N = 1 << 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;

function scrypt(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  const opts: ScryptOptions = { N: n, r, p, maxmem: 128 * n * r * 2 };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (n > 1 << 20 || r > 32 || p > 16) return false;
  const expected = Buffer.from(m[5] as string, 'base64');
  const key = await scrypt(password, Buffer.from(m[4] as string, 'base64'), n, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A hash of nothing anyone knows: an unknown login is checked against it, so a wrong login takes
 * the time a wrong password takes and the answer's timing does not tell which logins exist.
 */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

/** 20 characters from an alphabet without look-alikes (0/O, 1/l/I): about 115 bits. */
export function generatePassword(length = 20): string {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const out: string[] = [];
  // Rejection sampling: 256 is not a multiple of the alphabet's size, so bytes past the last full
  // multiple are thrown away instead of biasing the first letters.
  const limit = 256 - (256 % alphabet.length);
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < limit && out.length < length) out.push(alphabet[b % alphabet.length] as string);
    }
  }
  return out.join('');
}

/** ASVS 2.1: at least 12 characters, at most 128 (scrypt takes any length; the form does not need more). */
export function passwordProblem(password: string): string | null {
  if (password.length < 12) return 'a password must have at least 12 characters';
  if (password.length > 128) return 'a password must have at most 128 characters';
  return null;
}
