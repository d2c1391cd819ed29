/**
 * The registry upload's `multipart/form-data`, read from a body express.raw already bounded (no
 * multipart package: one form, a few text fields and one file). Anything malformed is null: the
 * route answers 400 and nothing is stored.
 */

export interface UploadedFile {
  field: string;
  fileName: string;
  data: Buffer;
}

export interface Multipart {
  fields: Record<string, string>;
  files: UploadedFile[];
}

const MAX_PARTS = 20;
const MAX_FIELD_CHARS = 1000;

export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\b/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

/** A header parameter (`name="x"`, `filename="y"`), the quotes' escapes as browsers send them. */
function param(header: string, name: string): string | null {
  const m = new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`, 'i').exec(header);
  return m ? (m[1] as string).replace(/\\(.)/g, '$1') : null;
}

export function parseMultipart(body: Buffer, contentType: string | undefined): Multipart | null {
  const boundary = boundaryOf(contentType);
  if (!boundary) return null;
  const delim = Buffer.from(`--${boundary}`);
  const out: Multipart = { fields: {}, files: [] };
  let at = body.indexOf(delim);
  if (at !== 0) return null;
  for (let n = 0; n <= MAX_PARTS; n++) {
    at += delim.length;
    // `--` after a delimiter closes the body.
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return out;
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) return null;
    const headEnd = body.indexOf('\r\n\r\n', at + 2);
    if (headEnd < 0) return null;
    const head = body.subarray(at + 2, headEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next < 0) return null;
    const data = body.subarray(headEnd + 4, next);
    const disposition = head.split('\r\n').find((l) => /^content-disposition:/i.test(l)) ?? '';
    const name = param(disposition, 'name');
    if (!name) return null;
    const fileName = param(disposition, 'filename');
    if (fileName !== null) out.files.push({ field: name, fileName: fileName.slice(0, 200), data });
    else if (!(name in out.fields)) out.fields[name] = data.toString('utf8').slice(0, MAX_FIELD_CHARS);
    at = next + 2;
  }
  return null;
}
