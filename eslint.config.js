import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import gateway from './eslint-rules/layers.js';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-globals': ['error', { name: 'parseFloat', message: 'Amounts are integers of tiyn.' }],
    },
  },
  {
    // A promise nobody awaits loses its error (and, on the pay path, maybe a payment's outcome):
    // await it, return it, or mark it `void` with a reason.
    files: ['src/**/*.ts', 'db/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    // Layers and cycles: eslint-rules/layers.js (docs/pay-flow.md).
    files: ['src/**/*.ts'],
    plugins: { gateway },
    rules: { 'gateway/layers': 'error', 'gateway/no-cycle': 'error' },
  },
);
