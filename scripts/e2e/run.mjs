// Runs the two E2E suites in code-server against the packaged extension:
//   ui       normal instance, the .vsix installed, driven through Chromium (scripts/e2e/ui.mjs)
//   exthost  smoke-test-driver instance, mocha inside the extension host (scripts/e2e/exthost.mjs,
//            tests in test/e2e/exthost); the extension under test is the folder the .vsix
//            installed to, so both suites exercise exactly what `npm run package` produced.
// Each suite gets its own run folder (user data, extensions, workspace, XDG dirs, TMPDIR), and
// every process is stopped by PID (process tree) — also on timeout, error or Ctrl-C.
//
// Usage: node scripts/e2e/run.mjs [--suite ui|exthost|restricted] [--vsix file.vsix] [--dev-path repo]
// Prereqs: bash scripts/e2e/setup.sh; npm run package.
// Output: per-suite `e2e <suite>: N passed, N failed`; with PERSONA_LAB_TALLY set, appends
// `e2e-<suite> <passed> <failed>` lines to that file. Screenshot and, on failure, logs → artifacts/.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, createRun, installVsix, requireSetup, startCodeServer } from './codeServer.mjs';
import { killTree, killTreeNow } from './procs.mjs';

const { values: opts } = parseArgs({ options: { suite: { type: 'string', multiple: true }, vsix: { type: 'string' }, 'dev-path': { type: 'string' } } });
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const vsix = path.resolve(opts.vsix ?? path.join(ROOT, 'dist', `${manifest.name}-${manifest.version}.vsix`));
const suites = opts.suite ?? ['ui', 'exthost', 'restricted'];
const SUITE_TIMEOUT_MS = Number(process.env.PERSONA_LAB_E2E_SUITE_TIMEOUT_MS ?? 1_800_000);
const artifacts = path.join(ROOT, 'artifacts');

requireSetup();
if (!existsSync(vsix)) throw new Error(`${vsix} not found; run \`npm run package\` first.`);
const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts/e2e/build-tests.mjs')], { stdio: 'inherit' });
if (built.status !== 0) throw new Error('building the extension-host tests failed');

const drivers = new Set();
process.on('exit', () => { for (const pid of drivers) killTreeNow(pid); });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/** Runs a driver script as a child process; kills its tree (Chromium included) if it overruns. */
function runDriver(script, args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/e2e', script), ...args], { env, stdio: 'inherit' });
    drivers.add(child.pid);
    const timer = setTimeout(async () => {
      console.log(`e2e: ${script} ran past ${SUITE_TIMEOUT_MS / 1000} s; stopping it`);
      await killTree(child.pid, 3000);
    }, SUITE_TIMEOUT_MS);
    child.on('exit', (code, sig) => { clearTimeout(timer); drivers.delete(child.pid); resolve(code ?? sig); });
  });
}

async function runSuite(suite) {
  const t0 = Date.now();
  // restricted: the extension-host tests of Restricted Mode, in a workspace opened untrusted (trust on).
  const run = createRun(suite, { trust: suite === 'restricted' });
  if (suite === 'restricted') run.env.PERSONA_LAB_EXTHOST_UNTRUSTED = '1';
  const resultsFile = path.join(run.dir, 'results.json');
  let cs;
  try {
    const installed = installVsix(run, vsix);
    if (suite === 'ui') {
      cs = await startCodeServer(run, { name: 'code-server-ui' });
      await runDriver('ui.mjs', [cs.url, run.workspace, installed, resultsFile, path.join(artifacts, 'e2e-ui.png')], run.env);
    } else {
      cs = await startCodeServer(run, { smokeTestDriver: true, name: `code-server-${suite}` });
      const devPath = opts['dev-path'] === 'repo' ? ROOT : installed;
      await runDriver('exthost.mjs', [cs.url, String(cs.port), run.workspace, devPath, path.join(ROOT, 'out/e2e/exthost/index.cjs'), resultsFile], run.env);
    }
  } catch (err) {
    console.log(`e2e ${suite}: ${err?.stack ?? err}`);
  } finally {
    await cs?.stop();
  }
  const result = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : { passed: 0, failed: 1 };
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`e2e ${suite}: ${result.passed} passed, ${result.failed} failed${result.pending ? `, ${result.pending} pending` : ''} (${secs} s)`);
  if (result.failed > 0) {
    // Keep the evidence: code-server logs go to artifacts/, the run folder stays on disk.
    mkdirSync(path.join(artifacts, `e2e-${suite}-logs`), { recursive: true });
    for (const f of readdirSync(run.dir).filter((n) => n.endsWith('.log') || n === 'results.json')) {
      copyFileSync(path.join(run.dir, f), path.join(artifacts, `e2e-${suite}-logs`, f));
    }
    console.log(`e2e ${suite}: logs in artifacts/e2e-${suite}-logs, run folder ${run.dir}`);
  } else {
    rmSync(run.dir, { recursive: true, force: true });
  }
  // Mocha's pending tests (a test that skipped itself, e.g. no Slurm here) count as skipped in npm test's summary.
  if (process.env.PERSONA_LAB_TALLY) appendFileSync(process.env.PERSONA_LAB_TALLY, `e2e-${suite} ${result.passed} ${result.failed} ${result.pending ?? 0}\n`);
  return result;
}

let failed = 0;
for (const suite of suites) failed += (await runSuite(suite)).failed;
process.exit(failed === 0 ? 0 : 1);
