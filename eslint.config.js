// Lint for kiln: @eslint/js and typescript-eslint recommended, plus the two type-aware promise
// rules everywhere, plus the import boundaries the folders rely on:
//   workflows/  runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
//               activities by type only (proxyActivities gives the values);
//   everything else never imports workflows/ (the worker bundles them by path, see
//               workers/workflowBundle.ts); shared definitions live in contracts/.
// `npm run lint` runs this and scripts/check-cycles.mjs (madge: no import cycles).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Node built-ins by their bare names (fs, path, os, child_process, ...) and as `name/*`. */
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_') && !m.includes('/'));

const workflowImports = {
  paths: [
    ...nodeBuiltins.map((name) => ({
      name,
      message: 'workflows/ runs in the deterministic sandbox: no Node built-ins.',
    })),
  ],
  patterns: [
    { group: ['node:*'], message: 'workflows/ runs in the deterministic sandbox: no Node built-ins.' },
    {
      group: [...nodeBuiltins.map((name) => `${name}/*`)],
      message: 'workflows/ runs in the deterministic sandbox: no Node built-ins.',
    },
    {
      group: ['../activities/*', '**/activities/**'],
      allowTypeImports: true,
      message: 'Workflows take activities as types (`import type`) and call them through proxyActivities.',
    },
    {
      group: ['@temporalio/activity', '@temporalio/worker', '@temporalio/client', 'execa', '@aws-sdk/*'],
      message: 'Not in workflow code: this module does I/O or belongs to the worker/client side.',
    },
  ],
};

const noWorkflowImports = {
  patterns: [
    {
      group: ['../workflows', '../workflows/*', '**/workflows/**', '**/workflows'],
      message:
        'Only the worker loads workflows/, by path (workers/workflowBundle.ts). Shared definitions belong in contracts/.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.venv/**',
      '.kiln/**',
      'dist/**',
      'python/**',
      'data/**',
      'test/fixtures/**',
      '.scratch/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        projectService: {
          // The few JavaScript files are outside tsconfig.json; they get a default project.
          allowDefaultProject: ['*.js', 'bin/*.js', 'lib/*.mjs', 'scripts/*.mjs'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's describe/it/test/hooks return promises that the runner itself awaits (a
      // suite is collected synchronously); awaiting them is the wrong idiom, so they are allowed.
      // A subtest made with `t.test(...)` is still reported: that one must be awaited.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // `_name` marks an argument or binding kept on purpose (callback positions, destructuring
      // that drops a field); anything else unused is still an error.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', workflowImports],
    },
  },
  {
    files: ['activities/**/*.ts', 'cli/**/*.ts', 'gateway/**/*.ts', 'lib/**/*.ts', 'workers/**/*.ts', 'contracts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', noWorkflowImports],
    },
  },
);
