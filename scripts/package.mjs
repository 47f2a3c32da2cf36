// Packages the extension as dist/persona-lab-<version>.vsix for linux-x64, offline.
//
// Why a staging folder: the bundles (dist/*) already contain every JavaScript dependency except
// onnxruntime-node, a native addon that must ship as files. vsce either packs no node_modules at
// all (--no-dependencies) or every production dependency with every platform's binaries
// (~290 MB). So we stage exactly what the extension needs into .cache/package-stage and run vsce
// there: node_modules holds only onnxruntime-node (linux-x64 binaries only) and onnxruntime-common.
// The project's own node_modules is never modified.
//
// Run after the build: `npm run package` does both.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const stage = path.join(root, '.cache', 'package-stage');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.join(root, 'dist', `${manifest.name}-${manifest.version}.vsix`);
const TARGET = { platform: 'linux', arch: 'x64', vsce: 'linux-x64' };

const fail = (msg) => { console.error(`package: ${msg}`); process.exit(1); };
if (!existsSync(path.join(root, manifest.main))) fail(`${manifest.main} is missing; run \`npm run build\` first.`);

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
const models = existsSync(path.join(root, 'models'))
  ? readdirSync(path.join(root, 'models')).filter((n) => n.startsWith('toy-persona') && statSync(path.join(root, 'models', n)).isDirectory())
  : [];
for (const m of models) copy(`models/${m}`, `models/${m}`, (src) => !path.basename(src).startsWith('.'));
console.log(`package: embedded models: ${models.join(', ') || 'none (models/toy-persona* not present)'}`);

// 3. onnxruntime-node with this platform's binary only. Its install-time dependencies (adm-zip,
//    global-agent: used by its postinstall downloader) and scripts are dropped from the staged
//    package.json so `npm list --production`, which vsce runs, sees a complete tree.
const ortDir = 'node_modules/onnxruntime-node';
const binDir = `${ortDir}/bin/napi-v6/${TARGET.platform}/${TARGET.arch}`;
if (!existsSync(path.join(root, binDir, 'onnxruntime_binding.node'))) fail(`${binDir}/onnxruntime_binding.node is missing; reinstall with \`npm ci\`.`);
// package.json files inside dist/ matter: onnxruntime-common marks dist/cjs as {"type":"commonjs"}.
const keepJs = (src) => statSync(src).isDirectory() || src.endsWith('.js') || path.basename(src) === 'package.json';
copy(`${ortDir}/dist`, `${ortDir}/dist`, keepJs);
// CUDA/TensorRT provider libraries (present after ONNXRUNTIME_NODE_INSTALL=cuda12) are several
// hundred MB and need a matching CUDA install; the packaged extension is the CPU build.
const excluded = [];
copy(binDir, binDir, (src) => {
  if (/providers_(cuda|tensorrt)/.test(path.basename(src))) { excluded.push(path.basename(src)); return false; }
  return true;
});
if (excluded.length) console.log(`package: left out GPU provider libraries: ${excluded.join(', ')}`);
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
const r = spawnSync(process.execPath, [vsce, 'package', '--target', TARGET.vsce, '--allow-missing-repository', '--out', out], {
  cwd: stage, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
});
if (r.status !== 0) fail(`vsce exited with ${r.status ?? r.signal}`);
console.log(`package: ${path.relative(root, out)} (${(statSync(out).size / 1024 / 1024).toFixed(1)} MB)`);
