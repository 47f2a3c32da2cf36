// Extension-host suite driver: opens the smoke-test-driver workbench with the `payload` URL
// parameter that names the extension under development and the mocha entry point, relays the
// test log (codeAutomationLog) and waits for codeAutomationExit. See vscode-testing.md, Q5.
// Usage: node scripts/e2e/exthost.mjs <url> <port> <workspace> <extension-dev-path> <tests-index.cjs> <results.json>
import { writeFileSync } from 'node:fs';
import { format } from 'node:util';
import { closeBrowser, openBrowser } from './browser.mjs';

const [url, port, workspace, devPath, testsPath, resultsFile] = process.argv.slice(2);
const TIMEOUT_MS = Number(process.env.PERSONA_LAB_EXTHOST_TIMEOUT_MS ?? 1_500_000);
const authority = `127.0.0.1:${port}`;
const payload = [
  ['extensionDevelopmentPath', `vscode-remote://${authority}${devPath}`],
  ['extensionTestsPath', `vscode-remote://${authority}${testsPath}`],
];

let result;
let resolveExit;
const exited = new Promise((r) => { resolveExit = r; });
const { ctx, page } = await openBrowser(process.env.TMPDIR);
try {
  await page.exposeFunction('codeAutomationLog', (_type, args) => {
    const line = format(...(args ?? []));
    const m = /PERSONA_LAB_EXTHOST_RESULT (\{.*\})/.exec(line);
    if (m) result = JSON.parse(m[1]);
    else console.log(line);
  });
  await page.exposeFunction('codeAutomationExit', (code) => { console.log(`extension-host suite: exit code ${code}`); resolveExit(code); });
  if (process.env.PERSONA_LAB_E2E_VERBOSE) page.on('console', (m) => console.log(`  [browser:${m.type()}] ${m.text().slice(0, 300)}`));
  console.log(`extension-host suite (${devPath})`);
  // A loaded 2-core machine can take over 30 s (the default) to serve the workbench.
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`, { timeout: 180_000 });
  let timer;
  const code = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), TIMEOUT_MS); })]);
  clearTimeout(timer);
  if (code === 'timeout') console.log(`extension-host suite: no result after ${TIMEOUT_MS / 1000} s`);
  if (!result) result = { passed: 0, failed: 1, pending: 0, error: code === 'timeout' ? 'timeout' : `exit ${code} without totals` };
  else if (code !== 0 && result.failed === 0) result.failed = 1; // the host failed outside any test
} finally {
  await closeBrowser(ctx);
  result ??= { passed: 0, failed: 1, pending: 0, error: 'driver failed before the suite ran' };
  writeFileSync(resultsFile, JSON.stringify({ suite: 'exthost', ...result }, null, 2));
  process.exitCode = result.failed === 0 ? 0 : 1;
}
