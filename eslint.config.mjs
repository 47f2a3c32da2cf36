import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.e2e/**', '.cache/**', 'models/**', 'media/**', 'scripts/toy-model/**', '.vscode-test/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Architecture boundary: only src/extension may talk to the editor.
    files: ['src/core/**', 'src/engine/**', 'src/cli/**', 'src/server/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'Only src/extension may import vscode.' }] }] },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    // Node (and, for webview assets, browser) globals; written out because the `globals` package is not a dependency.
    languageOptions: { globals: Object.fromEntries([
      'process', 'console', 'URL', 'URLSearchParams', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate',
      'Buffer', '__dirname', 'require', 'fetch', 'AbortController', 'AbortSignal', 'TextEncoder', 'TextDecoder', 'performance',
      'structuredClone', 'queueMicrotask', 'window', 'document',
    ].map((g) => [g, 'readonly']).concat([['module', 'writable']])) },
  },
);
