// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'load-tests/**', '**/public/vendor/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  {
    // The rules are pure: no I/O libraries, no database, no services.
    files: ['packages/domain/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@ridetally/db', '@ridetally/jobs', 'express', 'bullmq', 'ioredis', 'pg', 'kysely', 'node:fs', 'node:net'] },
      ],
    },
  },
  {
    // Packages never import services.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/domain/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@ridetally/tap-ingest', '@ridetally/aggregator', '@ridetally/reward', '@ridetally/cli', '@ridetally/platform'] },
      ],
    },
  },
  {
    // Migrations are frozen in time: they see the database as Kysely<any>, never the app's types.
    files: ['packages/db/src/migrations/**/*.ts', 'packages/db/src/migrate.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/require-await': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
