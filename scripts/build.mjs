// Bundles every entry point with esbuild. One bundle per runtime:
//   dist/extension.cjs  VS Code extension host (CommonJS, `vscode` external)
//   dist/worker.js      inference worker process (Node ESM)
//   dist/cli.js         headless CLI `persona-lab` (Node ESM)
//   dist/webview/*.js   one browser bundle per webview panel
// onnxruntime-node stays external: it is a native binary resolved from node_modules at run time.
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

const watch = process.argv.includes('--watch');
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const external = ['vscode', 'onnxruntime-node'];
const common = { bundle: true, sourcemap: true, logLevel: 'info', platform: 'node', target: 'node20', external };
const esmBanner = { js: "import { createRequire as __plCreateRequire } from 'node:module'; const require = __plCreateRequire(import.meta.url);" };

const configs = [];
if (existsSync(path.join(root, 'src/extension/extension.ts'))) {
  configs.push({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.cjs', format: 'cjs' });
}
if (existsSync(path.join(root, 'src/engine/worker/main.ts'))) {
  configs.push({ ...common, entryPoints: ['src/engine/worker/main.ts'], outfile: 'dist/worker.js', format: 'esm', banner: esmBanner });
}
if (existsSync(path.join(root, 'src/cli/index.ts'))) {
  configs.push({ ...common, entryPoints: ['src/cli/index.ts'], outfile: 'dist/cli.js', format: 'esm',
    banner: { js: '#!/usr/bin/env node\n' + esmBanner.js } });
}
const webviewDir = path.join(root, 'webview');
if (existsSync(webviewDir)) {
  for (const name of readdirSync(webviewDir)) {
    const entry = path.join('webview', name, 'main.ts');
    if (existsSync(path.join(root, entry))) {
      configs.push({ bundle: true, sourcemap: true, logLevel: 'info', platform: 'browser', target: 'es2022', format: 'esm',
        entryPoints: [entry], outfile: `dist/webview/${name}.js` });
    }
  }
}

// Third-party browser assets for webviews are copied, not fetched: everything works offline.
mkdirSync(path.join(root, 'dist/media'), { recursive: true });
const assets = [
  ['node_modules/@vscode-elements/elements/dist/bundled.js', 'dist/media/vscode-elements.js'],
  ['node_modules/chart.js/dist/chart.umd.min.js', 'dist/media/chart.umd.min.js'],
];
for (const [from, to] of assets) if (existsSync(path.join(root, from))) cpSync(path.join(root, from), path.join(root, to));

process.chdir(root);
if (watch) {
  for (const c of configs) (await esbuild.context(c)).watch();
} else {
  await Promise.all(configs.map((c) => esbuild.build(c)));
}
