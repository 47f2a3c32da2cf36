// Bundles the extension-host suite (test/e2e/exthost/*.ts) into out/e2e/exthost/*.cjs.
// One CommonJS bundle per file: index.cjs is the mocha entry point VS Code calls
// (extensionTestsPath), and each *.test.cjs is a file mocha loads. `vscode` and `mocha` stay
// external: the first is provided by the extension host, the second resolves to the project's
// mocha 11 (CommonJS; mocha 12 is ESM-only and untested in the extension host).
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const srcDir = path.join(root, 'test/e2e/exthost');
const outDir = path.join(root, 'out/e2e/exthost');
rmSync(outDir, { recursive: true, force: true });
const entryPoints = readdirSync(srcDir).filter((n) => n.endsWith('.ts')).map((n) => path.join(srcDir, n));
await esbuild.build({
  entryPoints, outdir: outDir, outExtension: { '.js': '.cjs' }, bundle: true, format: 'cjs', platform: 'node',
  target: 'node20', sourcemap: 'inline', external: ['vscode', 'mocha'], logLevel: 'warning',
});
console.log(`e2e: built ${entryPoints.length} extension-host test files into ${path.relative(root, outDir)}`);
