import fs from 'node:fs';
import path from 'node:path';

/**
 * Where settings come from besides the environment: config/default.json and config/<NODE_ENV>.json,
 * read strictly (a key the schema does not know is refused by name, with the nearest known one), and
 * how a refused value is shown (never a secret's).
 */

/** Values that may be a secret (or carry one, as a URL's password) are never repeated in a message. */
const SECRET_LIKE = /KEY|SECRET|PASSWORD|PASSPHRASE|TOKEN|LOGIN|URL/;

export function shown(key: string, value: unknown): string {
  if (SECRET_LIKE.test(key) || value === undefined) return '';
  const text = JSON.stringify(typeof value === 'string' ? value : String(value));
  return ` (got ${text.length > 60 ? `${text.slice(0, 57)}..."` : text})`;
}

/** The known key a mistyped one was most likely meant as (edit distance <= 3), for the message. */
function nearestKey(key: string, keys: ReadonlySet<string>): string | undefined {
  let best: { key: string; d: number } | undefined;
  for (const k of keys) {
    const d = editDistance(key.toUpperCase(), k);
    if (d <= 3 && (!best || d < best.d)) best = { key: k, d };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

export function unknownKey(where: string, key: string, keys: ReadonlySet<string>): string {
  const near = nearestKey(key, keys);
  return `${where}: unknown key ${key}${near ? ` (did you mean ${near}?)` : ''}`;
}

/**
 * One config file: a flat object of known keys ("//..." keys are comments). A missing file is an
 * empty layer; a file that is not JSON, or names a key the schema does not know, is refused by name.
 */
export function readJson(
  file: string,
  keys: ReadonlySet<string>,
  problems: string[],
): Record<string, unknown> {
  if (!fs.existsSync(file)) return {};
  const where = path.relative(process.cwd(), file) || file;
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    problems.push(`${where}: not valid JSON (${(e as Error).message})`);
    return {};
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    problems.push(`${where}: must be a JSON object of settings`);
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (k.startsWith('//')) continue;
    if (!keys.has(k)) problems.push(unknownKey(where, k, keys));
    else out[k] = v;
  }
  return out;
}
