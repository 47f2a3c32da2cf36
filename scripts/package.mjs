// Packages the extension as a platform-specific .vsix, offline, one per onnxruntime-node platform.
//
//   node scripts/package.mjs                      dist/persona-lab-<version>.vsix for linux-x64 (what E2E installs)
//   node scripts/package.mjs --target darwin-arm64 dist/persona-lab-darwin-arm64-<version>.vsix
//   node scripts/package.mjs --target all         one .vsix per platform onnxruntime-node ships binaries for
//   options: --out-dir DIR (default dist/), --cuda (linux-x64: keep the CUDA provider libraries that
//            `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` fetched; several hundred MB, for your own machine)
//
// Targets are the folders of node_modules/onnxruntime-node/bin/napi-v6/<platform>/<arch> (1.30:
// linux-x64, linux-arm64, darwin-arm64, win32-x64, win32-arm64; it ships no darwin-x64 build).
// Each package carries only its own platform's native files (test/scripts/package.integration.test.ts checks).
//
// Why a staging folder: the bundles (dist/*) already contain every JavaScript dependency except
// onnxruntime-node, a native addon that must ship as files. vsce either packs no node_modules at
// all (--no-dependencies) or every production dependency with every platform's binaries
// (~290 MB). So we stage exactly what the extension needs into .cache/package-stage and run vsce
// there: node_modules holds only onnxruntime-node (the target's binaries only) and onnxruntime-common.
// The project's own node_modules is never modified.
//
// Run after the build: `npm run package` does both.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const ortBin = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6');
/** Every vsce target onnxruntime-node could serve, and the ones this install carries binaries for. */
const KNOWN = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];
const shipped = KNOWN.filter((t) => existsSync(path.join(ortBin, ...t.split('-'), 'onnxruntime_binding.node')));

const fail = (msg) => { console.error(`package: ${msg}`); process.exit(1); };
let opts;
try {
  ({ values: opts } = parseArgs({ options: { target: { type: 'string', multiple: true }, 'out-dir': { type: 'string' }, cuda: { type: 'boolean' } } }));
} catch (e) {
  fail(`${e.message}\nusage: node scripts/package.mjs [--target ${shipped.join('|')}|all] [--out-dir DIR] [--cuda]`);
}
const requested = (opts.target ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
const targets = requested.includes('all') ? shipped : requested.length ? [...new Set(requested)] : ['linux-x64'];
for (const t of targets) {
  if (!KNOWN.includes(t)) fail(`unknown target "${t}"; targets: ${KNOWN.join(', ')} or all`);
  if (!shipped.includes(t)) {
    fail(`onnxruntime-node ${JSON.parse(readFileSync(path.join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version} ships no ${t} binaries `
      + `(node_modules/onnxruntime-node/bin/napi-v6/${t.replace('-', '/')} is missing), so there is no ${t} package; it ships: ${shipped.join(', ')}`);
  }
}
if (opts.cuda && targets.some((t) => t !== 'linux-x64')) fail('--cuda applies to linux-x64 only (the CUDA provider libraries exist for linux-x64)');
if (!existsSync(path.join(root, manifest.main))) fail(`${manifest.main} is missing; run \`npm run build\` first.`);
const outDir = path.resolve(opts['out-dir'] ?? path.join(root, 'dist'));
mkdirSync(outDir, { recursive: true });
if (requested.includes('all')) {
  const missing = KNOWN.filter((t) => !shipped.includes(t));
  console.log(`package: targets ${targets.join(', ')}${missing.length ? ` (onnxruntime-node ships no ${missing.join(', ')} binaries)` : ''}`);
}
// Stages live in .cache/package-stage/<target>; an older single-target stage there is removed first.
if (existsSync(path.join(root, '.cache', 'package-stage', 'package.json'))) rmSync(path.join(root, '.cache', 'package-stage'), { recursive: true, force: true });
for (const t of targets) packageTarget(t);

function packageTarget(target) {
  const [platform, arch] = target.split('-');
  // No --target: the historical name, which the E2E suites install (scripts/e2e/run.mjs).
  const out = path.join(outDir, requested.length ? `${manifest.name}-${target}-${manifest.version}.vsix` : `${manifest.name}-${manifest.version}.vsix`);
  const stage = path.join(root, '.cache', 'package-stage', target);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const copy = (from, to = from, filter = () => true) =>
    cpSync(path.join(root, from), path.join(stage, to), { recursive: true, dereference: true, filter: (src) => filter(src) });

  // 1. The manifest vsce publishes: no dev tooling, and only the one runtime dependency that is not bundled.
  const ortNode = JSON.parse(readFileSync(path.join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8'));
  const published = { ...manifest, dependencies: { 'onnxruntime-node': ortNode.version } };
  delete published.devDependencies;
  delete published.scripts;
  writeFileSync(path.join(stage, 'package.json'), JSON.stringify(published, null, 2) + '\n');

  // 2. Extension files. Source maps stay out (they double the bundle size and are only for debugging).
  const noMaps = (src) => !src.endsWith('.map') && !src.endsWith('.vsix');
  copy('dist', 'dist', noMaps);
  copy('media');
  for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md', '.vscodeignore']) if (existsSync(path.join(root, f))) copy(f);
  // The second line of defence, per target: every other platform's onnxruntime binaries are ignored.
  const foreign = KNOWN.filter((t) => t !== target).map((t) => `node_modules/onnxruntime-node/bin/napi-v6/${t.replace('-', '/')}/**`);
  writeFileSync(path.join(stage, '.vscodeignore'), `${existsSync(path.join(root, '.vscodeignore')) ? readFileSync(path.join(root, '.vscodeignore'), 'utf8') : ''}${foreign.join('\n')}\n`);
  const models = existsSync(path.join(root, 'models'))
    ? readdirSync(path.join(root, 'models')).filter((n) => n.startsWith('toy-persona') && statSync(path.join(root, 'models', n)).isDirectory())
    : [];
  for (const m of models) copy(`models/${m}`, `models/${m}`, (src) => !path.basename(src).startsWith('.'));
  console.log(`package: embedded models: ${models.join(', ') || 'none (models/toy-persona* not present)'}`);

  // 3. onnxruntime-node with this platform's binaries only. Its install-time dependencies (adm-zip,
  //    global-agent: used by its postinstall downloader) and scripts are dropped from the staged
  //    package.json so `npm list --production`, which vsce runs, sees a complete tree.
  const ortDir = 'node_modules/onnxruntime-node';
  const binDir = `${ortDir}/bin/napi-v6/${platform}/${arch}`;
  if (!existsSync(path.join(root, binDir, 'onnxruntime_binding.node'))) fail(`${binDir}/onnxruntime_binding.node is missing; reinstall with \`npm ci\`.`);
  // package.json files inside dist/ matter: onnxruntime-common marks dist/cjs as {"type":"commonjs"}.
  const keepJs = (src) => statSync(src).isDirectory() || src.endsWith('.js') || path.basename(src) === 'package.json';
  copy(`${ortDir}/dist`, `${ortDir}/dist`, keepJs);
  // CUDA/TensorRT provider libraries (present after ONNXRUNTIME_NODE_INSTALL=cuda12) are several
  // hundred MB and need a matching CUDA install: left out unless --cuda. macOS: the binding loads
  // @rpath/libonnxruntime.1.dylib (its install name); libonnxruntime.1.30.0.dylib is an identical
  // 44 MB second copy, left out.
  const excluded = [];
  copy(binDir, binDir, (src) => {
    const name = path.basename(src);
    const gpuLib = /providers_(cuda|tensorrt)/.test(name);
    if ((gpuLib && !opts.cuda) || (platform === 'darwin' && /^libonnxruntime\.\d+\.\d+\.\d+\.dylib$/.test(name))) { excluded.push(name); return false; }
    return true;
  });
  if (excluded.length) console.log(`package: ${target}: left out ${excluded.join(', ')}`);
  for (const f of ['LICENSE', 'README.md', 'ThirdPartyNotices.txt']) if (existsSync(path.join(root, ortDir, f))) copy(`${ortDir}/${f}`);
  writeFileSync(path.join(stage, ortDir, 'package.json'), JSON.stringify({
    name: ortNode.name, version: ortNode.version, license: ortNode.license, main: ortNode.main, types: ortNode.types,
    dependencies: { 'onnxruntime-common': ortNode.dependencies['onnxruntime-common'] },
  }, null, 2) + '\n');

  const commonDir = 'node_modules/onnxruntime-common';
  const common = JSON.parse(readFileSync(path.join(root, commonDir, 'package.json'), 'utf8'));
  copy(`${commonDir}/dist`, `${commonDir}/dist`, keepJs);
  for (const f of ['LICENSE', 'README.md']) if (existsSync(path.join(root, commonDir, f))) copy(`${commonDir}/${f}`);
  const { devDependencies: _d, scripts: _s, ...commonManifest } = common;
  writeFileSync(path.join(stage, commonDir, 'package.json'), JSON.stringify(commonManifest, null, 2) + '\n');

  // 4. vsce, offline. (--allow-missing-repository: the project has no public repository URL yet.)
  rmSync(out, { force: true });
  const vsce = path.join(root, 'node_modules/@vscode/vsce/vsce');
  const r = spawnSync(process.execPath, [vsce, 'package', '--target', target, '--allow-missing-repository', '--out', out], {
    cwd: stage, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  if (r.status !== 0) fail(`vsce exited with ${r.status ?? r.signal}`);
  console.log(`package: ${path.relative(root, out)} (${(statSync(out).size / 1024 / 1024).toFixed(1)} MB)`);
}
