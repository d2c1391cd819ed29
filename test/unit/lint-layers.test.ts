import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
// @ts-expect-error -- plain JS module of the lint config, no types
import gateway from '../../eslint-rules/layers.js';

/** The project's layer and cycle rules, run on real files of src/ with the text given. */
const eslint = new ESLint({
  cwd: path.resolve(import.meta.dirname, '../..'),
  overrideConfigFile: true,
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser },
      plugins: { gateway: gateway as ESLint.Plugin },
      rules: { 'gateway/layers': 'error', 'gateway/no-cycle': 'error' },
    },
  ],
});

async function lint(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: path.resolve(import.meta.dirname, '../..', file) });
  return (r?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the layer rule and the cycle rule', () => {
  it('when payments imports a channel (kaspi), then the upward import is refused by name', async () => {
    const out = await lint(
      'src/payments/remote-payment-service.ts',
      "import { validateKaspiRequest } from '../kaspi/kaspi-request.js';\nvoid validateKaspiRequest;\n",
    );
    expect(out).toEqual([
      expect.stringMatching(
        /^gateway\/layers: src\/payments\/remote-payment-service\.ts \(payments\) must not import src\/kaspi\/kaspi-request\.ts \(channel\)/,
      ) as string,
    ]);
  });

  it('when billing imports payments, then it is refused; when payments imports billing, then it passes', async () => {
    expect(
      await lint(
        'src/billing/sql-billing.ts',
        "import { paymentView } from '../payments/payment-view.js';\n",
      ),
    ).toHaveLength(1);
    expect(
      await lint('src/payments/payment-view.ts', "import { maskName } from '../billing/billing.js';\n"),
    ).toEqual([]);
  });

  it('when a file imports one that imports it back, then the cycle is named; a type-only import is no cycle', async () => {
    // src/db/db.ts imports the logger; the logger importing db back would close a loop.
    const cycle = await lint(
      'src/log/logger.ts',
      "import { createDb } from '../db/db.js';\nvoid createDb;\n",
    );
    expect(cycle).toEqual([
      'gateway/no-cycle: import cycle: src/log/logger.ts → src/db/db.ts → src/log/logger.ts',
    ]);
    expect(await lint('src/db/db.ts', "import type { Db } from './db.js';\nexport type X = Db;\n")).toEqual(
      [],
    );
  });

  it('when a src file is in no layer, then it is named', async () => {
    expect(await lint('src/nowhere/thing.ts', 'export const x = 1;\n')).toEqual([
      'gateway/layers: src/nowhere/thing.ts is in no layer: add its folder to LAYERS in eslint-rules/layers.js',
    ]);
  });
});
