/**
 * The webview kit's theme, apart from chart.js (webview/kit/theme.ts):
 *   - a panel without charts (the playground) bundles no chart.js; the chart panels do (the bundles as scripts/build.mjs
 *     builds them; their sizes are printed);
 *   - a kit heat-map follows a theme switch on a page with no chart (before, only a chart started the theme watcher), in
 *     headless Chromium (the E2E suites' browser), by the same colour rule the cells were first painted with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.PERSONA_LAB_CHROMIUM ?? '/usr/bin/chromium';
const browserBuild = { bundle: true, platform: 'browser', target: 'es2022', format: 'esm', write: false, minify: false, logLevel: 'silent', loader: { '.css': 'empty' } } as const;

test('panels without charts bundle no chart.js; the chart panels do', async (t) => {
  const panels = readdirSync(path.join(root, 'webview')).filter((d) => existsSync(path.join(root, 'webview', d, 'main.ts')));
  const withChartJs = new Map<string, boolean>();
  for (const p of panels) {
    const r = await esbuild.build({ ...browserBuild, entryPoints: [path.join(root, 'webview', p, 'main.ts')], outfile: path.join(root, '.cache', 'kit-theme-test', `${p}.js`), metafile: true });
    const inputs = Object.keys(r.metafile.inputs);
    withChartJs.set(p, inputs.some((i) => i.includes('node_modules/chart.js/')));
    const js = r.outputFiles.find((f) => f.path.endsWith('.js'))!;
    t.diagnostic(`${p}: ${(js.contents.length / 1024).toFixed(0)} KB${withChartJs.get(p) ? ' (chart.js)' : ''}`);
  }
  assert.equal(withChartJs.get('playground'), false, 'the playground draws no chart: no chart.js');
  for (const p of ['sweep', 'grid', 'geometry', 'judge']) assert.equal(withChartJs.get(p), true, `${p} draws charts`);
});

test('a kit heat-map re-colours on a theme switch with no chart on the page', { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (scripts/e2e/setup.sh installs it)`, timeout: 120_000 }, async () => {
  const entry = `
    import { heatMap } from ${JSON.stringify(path.join(root, 'webview/kit/heatmap.ts'))};
    import { divergingColour, theme } from ${JSON.stringify(path.join(root, 'webview/kit/theme.ts'))};
    heatMap(document.getElementById('root'), { name: 'h', rows: ['a'], cols: ['x', 'y'], values: [[1, -1]] });
    window.expected = () => divergingColour(1, theme()).bg;
    window.ready = true;`;
  const r = await esbuild.build({ ...browserBuild, stdin: { contents: entry, resolveDir: root, loader: 'ts' }, outfile: path.join(root, '.cache', 'kit-theme-test', 'heat.js') });
  const js = r.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    const light = '--vscode-editor-background:#ffffff;--vscode-charts-red:#e51400;--vscode-charts-blue:#1a85ff';
    await page.setContent(`<!doctype html><html style="${light}"><body class="vscode-light"><div id="root"></div><script type="module">${js.replace(/<\/script/g, '<\\/script')}</script></body></html>`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const cell = page.locator('table.heatmap td').first();
    const before = (await cell.evaluate((td) => (td as HTMLElement).style.background)).replace(/\s/g, '');
    assert.equal(before, await page.evaluate(() => (window as unknown as { expected: () => string }).expected()));
    // What VS Code does on a theme switch: new variables on <html>, a new class on <body>.
    await page.evaluate(() => {
      document.documentElement.setAttribute('style', '--vscode-editor-background:#1e1e1e;--vscode-charts-red:#f14c4c;--vscode-charts-blue:#3794ff');
      document.body.className = 'vscode-dark';
    });
    const dark = await page.evaluate(() => (window as unknown as { expected: () => string }).expected());
    assert.notEqual(dark, before);
    await page.waitForFunction((want) => (document.querySelector('table.heatmap td') as HTMLElement).style.background.replace(/\s/g, '') === want, dark, { timeout: 5000 })
      .catch(async () => assert.fail(`the cell kept ${await cell.evaluate((td) => (td as HTMLElement).style.background)} after the switch (want ${dark})`));
  } finally { await browser.close(); }
});
