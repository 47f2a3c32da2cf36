// The conventional route for contributors with desktop VS Code and internet access:
// `npm run test:desktop` downloads VS Code (stable) through @vscode/test-electron and runs the
// same extension-host suite as CI (test/e2e/exthost, bundled to out/e2e/exthost) against this
// checkout. CI and `npm test` run that suite in code-server instead (scripts/e2e/run.mjs), where
// no download is possible.
import { defineConfig } from '@vscode/test-cli';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default defineConfig({
  label: 'extension-host',
  files: 'out/e2e/exthost/*.test.cjs',
  version: 'stable',
  // The suite writes .persona-lab/ and workspace settings: give it a throwaway folder.
  workspaceFolder: mkdtempSync(path.join(os.tmpdir(), 'persona-lab-desktop-')),
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  mocha: { ui: 'bdd', timeout: 60_000 },
});
