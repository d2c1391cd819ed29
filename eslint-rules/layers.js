/**
 * The project's own import rules (no dependency: a plugin would change package-lock.json for two
 * small rules). `layers`: arrows point one way, entry → surface → channels → payments → billing →
 * base (docs/pay-flow.md, README "Layout"). `no-cycle`: no runtime import cycle inside src/
 * (`import type` is erased by TypeScript and does not count).
 */
import fs from 'node:fs';
import path from 'node:path';

/** Every src file belongs to the first entry whose pattern matches; a higher layer may import a lower or equal one. */
export const LAYERS = [
  { layer: 5, name: 'entry', match: ['src/main.ts', 'src/wiring/', 'src/cli/'] },
  {
    layer: 4,
    name: 'surface',
    match: ['src/app.ts', 'src/admin/', 'src/audit/audit-routes.ts', 'src/metrics/', 'src/jobs/jobs.ts'],
  },
  {
    layer: 3,
    name: 'channel',
    match: ['src/kaspi/', 'src/jetpay/', 'src/kaspi-qr/', 'src/reconcile/', 'src/refunds/', 'src/console/'],
  },
  { layer: 2, name: 'payments', match: ['src/payments/'] },
  { layer: 1, name: 'billing', match: ['src/billing/'] },
  {
    layer: 0,
    name: 'base',
    match: [
      'src/shared/',
      'src/log/',
      'src/config/',
      'src/db/',
      'src/http/',
      'src/audit/',
      'src/jobs/scheduler.ts',
      'src/jobs/lease-store.ts',
      'src/jobs/request-log-retention.ts',
    ],
  },
];

function rel(file, cwd) {
  return path.relative(cwd, file).split(path.sep).join('/');
}

function layerOf(relPath) {
  return LAYERS.find((l) => l.match.some((m) => (m.endsWith('/') ? relPath.startsWith(m) : relPath === m)));
}

/** `../x/y.js` from a .ts file → the .ts file it names (NodeNext: imports end in .js). */
function resolveTs(fromFile, spec) {
  if (!spec.startsWith('.')) return null;
  const target = path.resolve(path.dirname(fromFile), spec);
  for (const c of [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, path.join(target, 'index.ts')])
    if (c.endsWith('.ts') && fs.existsSync(c)) return c;
  return null;
}

const RUNTIME_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?'(\.[^']+)'/gm;
const importsCache = new Map();

/** Runtime relative imports of a file, resolved; read once per lint run. */
function runtimeImports(file) {
  const mtime = fs.statSync(file).mtimeMs;
  const hit = importsCache.get(file);
  if (hit && hit.mtime === mtime) return hit.deps;
  const text = fs.readFileSync(file, 'utf8');
  const deps = [];
  for (const m of text.matchAll(RUNTIME_IMPORT)) {
    const r = resolveTs(file, m[1]);
    if (r) deps.push(r);
  }
  importsCache.set(file, { mtime, deps });
  return deps;
}

const layers = {
  meta: {
    type: 'problem',
    docs: {
      description: 'imports point down the layers: entry → surface → channel → payments → billing → base',
    },
    schema: [],
    messages: {
      up: '{{from}} ({{fromLayer}}) must not import {{to}} ({{toLayer}}): imports point down, entry → surface → channel → payments → billing → base (docs/pay-flow.md). Move the shared piece down, or pass it in from src/wiring.',
      unknown: '{{from}} is in no layer: add its folder to LAYERS in eslint-rules/layers.js',
    },
  },
  create(context) {
    const cwd = context.cwd;
    const file = context.filename;
    const from = rel(file, cwd);
    if (!from.startsWith('src/')) return {};
    const mine = layerOf(from);
    const check = (node, spec) => {
      if (typeof spec !== 'string') return;
      const target = resolveTs(file, spec);
      if (!target) return;
      const to = rel(target, cwd);
      if (!to.startsWith('src/')) return;
      const theirs = layerOf(to);
      if (!theirs) return;
      if (theirs.layer > mine.layer)
        context.report({
          node,
          messageId: 'up',
          data: { from, fromLayer: mine.name, to, toLayer: theirs.name },
        });
    };
    return {
      Program(node) {
        if (!mine) context.report({ node, messageId: 'unknown', data: { from } });
      },
      ImportDeclaration(node) {
        if (mine) check(node, node.source.value);
      },
      ExportNamedDeclaration(node) {
        if (mine && node.source) check(node, node.source.value);
      },
      ExportAllDeclaration(node) {
        if (mine) check(node, node.source.value);
      },
      ImportExpression(node) {
        if (mine && node.source.type === 'Literal') check(node, node.source.value);
      },
    };
  },
};

const noCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'no runtime import cycle among the files of src/' },
    schema: [],
    messages: { cycle: 'import cycle: {{path}}' },
  },
  create(context) {
    const cwd = context.cwd;
    const file = context.filename;
    if (!rel(file, cwd).startsWith('src/')) return {};
    return {
      ImportDeclaration(node) {
        if (node.importKind === 'type') return;
        const start = resolveTs(file, node.source.value);
        if (!start) return;
        // Depth-first from the imported file: a way back to this file is a cycle through this import.
        const seen = new Set();
        const walk = (f, trail) => {
          if (f === file) return trail;
          if (seen.has(f)) return null;
          seen.add(f);
          for (const d of runtimeImports(f)) {
            const found = walk(d, [...trail, d]);
            if (found) return found;
          }
          return null;
        };
        const loop = walk(start, [start]);
        if (loop)
          context.report({
            node,
            messageId: 'cycle',
            data: { path: [file, ...loop].map((f) => rel(f, cwd)).join(' → ') },
          });
      },
    };
  },
};

export default { rules: { layers, 'no-cycle': noCycle } };
