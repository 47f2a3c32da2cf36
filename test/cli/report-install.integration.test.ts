/**
 * `persona-lab report` from an installation that lacks chart.js (the asset the page inlines): the real CLI, bundled as
 * scripts/build.mjs bundles it but into a folder with no dist/media beside it, exits 1 (a broken installation, not bad
 * input: exit 2 is for what the user can fix on the command line) with a message that says how to repair it, and
 * writes nothing. The same bundle with chart.js copied next to it finds it (the .vsix and `npm start` layout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(import.meta.dirname, '..', '..');

function run(cliJs: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cliJs, ...args], { cwd: path.dirname(cliJs) });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

test('report: chart.js missing from the installation exits 1 with how to repair it, and writes nothing', { timeout: 120_000 }, async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-report-install-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const install = path.join(tmp, 'install');
  mkdirSync(path.join(install, 'node_modules'), { recursive: true });
  // Only the runtime dependency a packaged install carries; no chart.js anywhere up the tree.
  symlinkSync(path.join(root, 'node_modules', 'onnxruntime-node'), path.join(install, 'node_modules', 'onnxruntime-node'), 'dir');
  const cliJs = path.join(install, 'dist', 'cli.js');
  await esbuild.build({ entryPoints: [path.join(root, 'src/cli/index.ts')], outfile: cliJs, bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'silent',
    external: ['vscode', 'onnxruntime-node'], banner: { js: "import { createRequire as __plCreateRequire } from 'node:module'; const require = __plCreateRequire(import.meta.url);" } });
  const ws = path.join(tmp, 'ws');
  mkdirSync(ws);
  const r = await run(cliJs, ['report', '--workspace', ws]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /installation is incomplete: chart\.js/);
  assert.match(r.stderr, /node scripts\/build\.mjs/);
  assert.match(r.stderr, /reinstall/);
  assert.deepEqual(readdirSync(ws), [], 'no report folder');
  // Put chart.js where the build puts it (dist/media): found; the workspace's own state (no runs) is what is reported now.
  mkdirSync(path.join(install, 'dist', 'media'));
  cpSync(path.join(root, 'node_modules/chart.js/dist/chart.umd.min.js'), path.join(install, 'dist', 'media', 'chart.umd.min.js'));
  const ok = await run(cliJs, ['report', '--workspace', ws]);
  assert.equal(ok.code, 2, ok.stderr);
  assert.match(ok.stderr, /no finished grid, controls, sweep, monitor or screen runs/);
  assert.ok(!existsSync(path.join(ws, 'report')));
});
