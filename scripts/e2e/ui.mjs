// UI suite: a normal code-server instance with the .vsix installed, driven like a user would.
// Each check below is one counted test; a failed check is recorded and the next one still runs.
// Usage (run.mjs calls it): node scripts/e2e/ui.mjs <url> <workspace> <installed-extension-dir> <results.json> <screenshot.png>
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HARMLESS, closeBrowser, openBrowser, runFromPalette } from './browser.mjs';

const [url, workspace, extensionDir, resultsFile, screenshot] = process.argv.slice(2);
const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`  ✔ ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: String(err?.message ?? err).split('\n').slice(0, 6).join('\n') });
    console.log(`  ✖ ${name}\n    ${String(err?.message ?? err).split('\n').slice(0, 6).join('\n    ')}`);
  }
}

const { ctx, page } = await openBrowser(process.env.TMPDIR);
page.on('console', (m) => { if (m.type() === 'error' && !HARMLESS.test(m.text()) && process.env.PERSONA_LAB_E2E_VERBOSE) console.log(`  [browser] ${m.text()}`); });
const sidebar = page.locator('[id="workbench.parts.sidebar"]');
const hasToyModel = ['config.json', 'manifest.json'].some((f) => existsSync(path.join(extensionDir, 'models/toy-persona', f)));

// ---- kit panels (webview/kit): helpers for the panel checks
const artifactsDir = path.dirname(screenshot);
// The visible webview: a panel an earlier check left open stays in the DOM, hidden.
const panelFrame = () => page.frameLocator('iframe.webview.ready:visible').frameLocator('iframe#active-frame');
/** Switches the colour theme through the workspace settings (applied live, like a pick in "Preferences: Color Theme"). */
async function setTheme(name) {
  const file = path.join(workspace, '.vscode', 'settings.json');
  mkdirSync(path.dirname(file), { recursive: true });
  const settings = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8') || '{}') : {};
  if (settings['workbench.colorTheme'] === name) return;
  settings['workbench.colorTheme'] = name;
  writeFileSync(file, JSON.stringify(settings, null, 2));
  await page.waitForFunction((n) => {
    const cls = document.querySelector('.monaco-workbench')?.className ?? '';
    return n.includes('High Contrast') ? cls.includes('hc-black') : n.includes('Light') ? cls.includes('vs') && !cls.includes('vs-dark') : cls.includes('vs-dark');
  }, name, { timeout: 30_000 });
  await page.waitForTimeout(1000); // the webview gets the new variables, the kit redraws the charts
}
/** Every chart canvas in the panel: painted pixels and the points it holds (data-points, set by the kit). */
async function canvases(view) {
  return view.locator('canvas').evaluateAll((cs) => cs.map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
    return { name: c.getAttribute('aria-label'), painted, points: Number(c.dataset.points) };
  }));
}
/** A screenshot of the open panel in a dark and a light theme (artifacts/e2e-<name>-{dark,light}.png); back to dark after. */
async function themedScreenshots(name, view, themes = [['dark', 'Default Dark Modern'], ['light', 'Default Light Modern']]) {
  for (const [label, theme] of themes) {
    await setTheme(theme);
    const drawn = await canvases(view);
    if (drawn.some((c) => c.painted === 0)) throw new Error(`after the switch to ${theme} a chart is blank: ${JSON.stringify(drawn)}`);
    await page.screenshot({ path: path.join(artifactsDir, `e2e-${name}-${label}.png`) });
  }
  await setTheme('Default Light Modern');
}
/** Closes a panel's editor tab with the workbench (not the webview) focused, so later keys reach the workbench. */
async function closeTab(title) {
  await page.locator('.tabs-container .tab', { hasText: title }).first().click();
  await page.keyboard.press('Control+W');
  await page.locator('.tabs-container .tab', { hasText: title }).first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
}
/** Opens a palette command that asks for a run, and picks the run whose label contains `runName`. */
async function openRunPanel(command, runName) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.fill(`>${command}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: command }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: runName }).first().waitFor();
  await input.fill(runName);
  await page.keyboard.press('Enter');
}
/** A real toy run made with the CLI the repository built (the same dist/ the .vsix holds). */
function cli(...args) {
  execFileSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), ...args, '--threads', '1', '--workspace', path.join(workspace, '.persona-lab')], { stdio: 'pipe', timeout: 300_000 });
}
const runOfKind = (kind, match = '') => {
  const runs = path.join(workspace, '.persona-lab', 'runs');
  return readdirSync(runs).find((d) => d.includes(match) && existsSync(path.join(runs, d, 'manifest.json')) && JSON.parse(readFileSync(path.join(runs, d, 'manifest.json'), 'utf8')).kind === kind);
};

try {
  console.log('UI suite');
  await check('workbench loads', async () => {
    await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`, { timeout: 180_000 }); // a loaded 2-core machine can take over 30 s
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 90_000 });
  });

  await check('Persona Lab container shows Models, Traits, Vectors and Runs', async () => {
    await page.locator('.activitybar .action-item a[aria-label^="Persona Lab"]').click({ timeout: 60_000 });
    const titles = sidebar.locator('.pane-header .title');
    await titles.filter({ hasText: /^Runs$/i }).waitFor();
    // textContent, not innerText: the headers are uppercased by CSS.
    const got = (await titles.allTextContents()).map((t) => t.trim());
    for (const want of ['Models', 'Traits', 'Vectors', 'Runs']) if (!got.includes(want)) throw new Error(`view "${want}" missing; headers: ${got.join(', ')}`);
  });

  await check(hasToyModel ? 'Models view lists the embedded toy model and its revisions' : 'Models view shows its welcome message (no toy model packaged)', async () => {
    if (!hasToyModel) return sidebar.locator('.welcome-view-content', { hasText: 'No models found' }).waitFor();
    // Match the label element exactly: a row's text also holds its description.
    const row = (label) => sidebar.locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
    const toy = row('toy-persona');
    await toy.waitFor();
    if ((await toy.getAttribute('aria-expanded')) === 'false') await toy.locator('.monaco-tl-twistie').click();
    // The list is virtualised: look for the first revision, which is on screen once expanded.
    const manifest = path.join(extensionDir, 'models/toy-persona/manifest.json');
    const first = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).revisions?.[0]?.name : undefined;
    if (first) await row(first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).waitFor();
  });

  await check('palette: "Persona Lab: Open Workspace Folder" creates and reveals .persona-lab', async () => {
    await runFromPalette(page, 'Persona Lab: Open Workspace Folder');
    await sidebar.locator('.monaco-list-row', { hasText: '.persona-lab' }).first().waitFor();
    for (const sub of ['traits', 'vectors', 'runs']) {
      if (!existsSync(path.join(workspace, '.persona-lab', sub))) throw new Error(`${sub}/ was not created on disk`);
    }
  });

  await check('palette: "Persona Lab: Show Log" shows the persona-lab log channel', async () => {
    await runFromPalette(page, 'Persona Lab: Show Log');
    await page.locator('.part.panel .view-lines', { hasText: 'Workspace folder ready' }).first().waitFor();
  });

  await check('palette: "Persona Lab: Open Sweep Dashboard" renders a sweep as charts and a table (screenshot saved)', async () => {
    // A real toy sweep's results (test/fixtures/sweep), placed as a finished sweep run in the workspace folder.
    const runDir = path.join(workspace, '.persona-lab', 'runs', 'sweep-toy-persona-ui');
    mkdirSync(runDir, { recursive: true });
    copyFileSync(path.join(repoRoot, 'test/fixtures/sweep/results.json'), path.join(runDir, 'results.json'));
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.fill('>Persona Lab: Open Sweep Dashboard');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Persona Lab: Open Sweep Dashboard' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'sweep-toy-persona-ui' }).first().waitFor();
    await page.keyboard.press('Enter');
    const view = panelFrame();
    for (const trait of ['evil', 'sycophantic']) await view.locator(`section[data-trait="${trait}"] canvas`).first().waitFor({ timeout: 60_000 });
    const rows = await view.locator('table[data-table="revisions"] tbody tr').count();
    if (rows !== 10) throw new Error(`expected 10 table rows (5 revisions × 2 traits), found ${rows}`);
    const lastCells = await view.locator('section[data-trait="sycophantic"] table[data-table="revisions"] tbody tr').last().locator('td').allTextContents();
    if (lastCells[0] !== 'main' || lastCells[9] !== '1.000') throw new Error(`last sycophantic row: ${lastCells.join(' | ')}`);
    // The layer and coef are on the page; a revision without a vector says why.
    if (lastCells[2] !== '4' || !/^\d+$/.test(lastCells[3])) throw new Error(`layer/coef cells: ${lastCells.join(' | ')}`);
    const noVector = await view.locator('section[data-trait="evil"] tr[data-state="no-vector"] td').last().textContent();
    if (!/no vector — no pair passed the filter/.test(noVector ?? '')) throw new Error(`no-vector row: ${noVector}`);
    // Charts drew data: every canvas has pixels, and the Δτ chart holds one point per revision with a vector.
    const fixture = JSON.parse(readFileSync(path.join(repoRoot, 'test/fixtures/sweep/results.json'), 'utf8'));
    const drawn = await canvases(view);
    if (drawn.some((c) => c.painted === 0)) throw new Error(`blank chart: ${JSON.stringify(drawn)}`);
    for (const trait of ['evil', 'sycophantic']) {
      const want = fixture.rows.filter((r) => r.trait === trait && r.vector_exists && typeof r.delta_trait_mean === 'number').length;
      const got = drawn.find((c) => c.name === `${trait}-delta-trait`)?.points;
      if (got !== want) throw new Error(`${trait} Δτ chart holds ${got} points, the run has ${want}`);
    }
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(path.dirname(screenshot), 'e2e-sweep-dashboard.png') });
    await themedScreenshots('sweep-dashboard', view, [['dark', 'Default Dark Modern'], ['light', 'Default Light Modern'], ['hc', 'Default High Contrast']]);
    await closeTab('Sweep: sweep-toy-persona-ui');
  });

  // The Steering Playground's checks: scripts/e2e/ui/playground.mjs.

  await check('palette: "Persona Lab: Open Judge Results" on a real extraction run: every answer, filters change the count, histograms drew (screenshots saved)', async () => {
    if (!hasToyModel) throw new Error('the judge results check needs the toy model');
    cli('extract', '--trait', 'evil', '--max-questions', '3');
    const run = runOfKind('extract', '-main-evil-');
    const records = readFileSync(path.join(workspace, '.persona-lab', 'runs', run, 'generations.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).length;
    await openRunPanel('Persona Lab: Open Judge Results', run);
    const view = panelFrame();
    const count = view.locator('#count[data-total]');
    await count.waitFor({ timeout: 60_000 });
    const total = Number(await count.getAttribute('data-total'));
    if (total !== records) throw new Error(`the table holds ${total} answers, generations.jsonl ${records} records`);
    const shown = async () => Number(await count.getAttribute('data-shown'));
    if ((await shown()) !== records) throw new Error(`shown ${await shown()} of ${records} with no filter`);
    await view.locator('#kept').evaluate((e) => { e.value = 'dropped'; e.dispatchEvent(new e.ownerDocument.defaultView.Event('change')); });
    const dropped = await shown();
    await view.locator('#kept').evaluate((e) => { e.value = ''; e.dispatchEvent(new e.ownerDocument.defaultView.Event('change')); });
    await view.locator('#trait-min input').fill('50');
    const high = await shown();
    console.log(`    Judge Results: ${records} answers; trait ≥ 50 → ${high} shown, filter + sort ${await count.getAttribute('data-ms')} ms in the webview`);
    if (!(high < records && high > 0)) throw new Error(`trait ≥ 50 shows ${high} of ${records}`);
    await view.locator('#trait-min input').fill('');
    await view.locator('#search input').fill('zzzz-no-such-text');
    if ((await shown()) !== 0) throw new Error(`a search for text no answer has shows ${await shown()} rows`);
    await view.locator('#search input').fill('');
    if (dropped >= records) throw new Error(`"dropped" shows ${dropped} of ${records}`);
    const drawn = await canvases(view);
    if (drawn.length !== 2 || drawn.some((c) => c.painted === 0 || !(c.points > 0))) throw new Error(`histograms: ${JSON.stringify(drawn)}`);
    await view.locator('.vrow[data-line]').first().click();
    await view.locator('#detail:not([hidden]) #open-record').waitFor();
    await themedScreenshots('judge-results', view);
    await closeTab('Judge Results');
  });

  await check('palette: "Persona Lab: Open Grid Results" on a real grid: Δτ and coherence heat-maps, best point marked (screenshots saved)', async () => {
    if (!hasToyModel) throw new Error('the grid check needs the toy model');
    cli('grid', '--trait', 'evil', '--layers', '2,4', '--coefs', '2,6', '--max-questions', '2', '--samples', '2');
    const run = runOfKind('grid');
    const results = JSON.parse(readFileSync(path.join(workspace, '.persona-lab', 'runs', run, 'results.json'), 'utf8'));
    await openRunPanel('Persona Lab: Open Grid Results', run);
    const view = panelFrame();
    await view.locator('section[data-map="coherence"] table.heatmap').waitFor({ timeout: 60_000 });
    const steer = results.conditions.filter((c) => c.condition.kind === 'steer');
    const cells = await view.locator('section[data-map="deltaTrait"] table.heatmap tbody tr').count();
    if (cells !== 3) throw new Error(`Δτ heat-map has ${cells} rows (2 layers + the prompting baseline expected)`);
    const marked = await view.locator('section[data-map="deltaTrait"] td.mark').count();
    if (marked !== (results.best ? 1 : 0)) throw new Error(`${marked} marked cells, best = ${JSON.stringify(results.best?.condition)}`);
    const drawn = await canvases(view);
    if (drawn.length !== 1 || drawn[0].painted === 0 || drawn[0].points !== steer.length) throw new Error(`Δτ-by-coef chart: ${JSON.stringify(drawn)}, ${steer.length} grid points`);
    await themedScreenshots('grid', view);
    await closeTab('Grid:');
  });

  await check('palette: "Persona Lab: Show Vector Geometry" on the published OLMo-3 .pt vectors: heat-maps and charts show the numbers upstream computed (screenshots saved)', async () => {
    const shared = path.resolve(repoRoot, '..', 'shared', 'upstream-vectors', 'pretraining_persona');
    if (!existsSync(shared)) throw new Error(`${shared} is missing`);
    // The upstream folder as it would sit in a workspace: vectors/<model>/<revision>/*.pt, norms/<model>/*_shared_norms.csv.
    const model = 'Olmo-3-1025-7B';
    const vecRoot = path.join(workspace, '.persona-lab', 'vectors', model);
    const src = path.join(shared, 'data', 'persona_vectors', model);
    for (const rev of readdirSync(src)) {
      mkdirSync(path.join(vecRoot, rev), { recursive: true });
      for (const f of readdirSync(path.join(src, rev))) copyFileSync(path.join(src, rev, f), path.join(vecRoot, rev, f));
    }
    const normsSrc = path.join(shared, 'results', model, 'activation_norms');
    mkdirSync(path.join(workspace, '.persona-lab', 'norms', model), { recursive: true });
    for (const f of readdirSync(normsSrc)) copyFileSync(path.join(normsSrc, f), path.join(workspace, '.persona-lab', 'norms', model, f));
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.fill('>Persona Lab: Show Vector Geometry');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Persona Lab: Show Vector Geometry' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: model }).first().waitFor();
    await input.fill(model);
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'impolite_character_neutral_q' }).first().waitFor();
    await input.fill('impolite_character_neutral_q');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    await page.keyboard.press('Enter'); // the layer input box, prefilled with the default (16)
    const view = panelFrame();
    await view.locator('section[data-part="revision-matrix"] table.heatmap').waitFor({ timeout: 90_000 });
    const csv = readFileSync(path.join(shared, 'results', model, 'checkpoint_grid/impolite_transfer_to_main_v1/vector_similarity/vector_cosine_to_main_impolite_character_neutral_q_layer16.csv'), 'utf8')
      .trim().split('\n').slice(1).map((l) => l.split(','));
    const titles = await view.locator('section[data-part="revision-matrix"] tbody tr').last().locator('td').evaluateAll((tds) => tds.map((td) => td.getAttribute('title')));
    for (const [rev, cos] of csv) {
      const cell = titles.find((x) => x?.startsWith('main · ') && x.includes(` · ${rev}: `)) ?? titles.find((x) => x?.includes(`${rev}: `));
      const ours = Number(/: (-?[\d.]+)$/.exec(cell ?? '')?.[1]);
      if (!(Math.abs(ours - Number(cos)) < 1e-3)) throw new Error(`${rev}: panel ${cell}, upstream ${cos}`);
    }
    const drawn = await canvases(view);
    if (drawn.length !== 4 || drawn.some((c) => c.painted === 0)) throw new Error(`charts: ${JSON.stringify(drawn)}`);
    const mds = drawn.find((c) => c.name.includes('-mds-'));
    if (mds?.points !== 16 + 3) throw new Error(`MDS scatter holds ${mds?.points} points (16 revisions + 3 other traits expected)`);
    await themedScreenshots('geometry', view);
    await closeTab('Geometry:');
  });

  // More checks, one module per area (scripts/e2e/ui/*.mjs, in name order): each exports
  // `default async function (t)` and calls t.check(...) with the helpers below.
  const uiDir = path.join(import.meta.dirname, 'ui');
  const helpers = { page, check, sidebar, panelFrame, canvases, themedScreenshots, setTheme, closeTab, openRunPanel, cli, runOfKind, runFromPalette,
    workspace, extensionDir, repoRoot, artifactsDir, hasToyModel };
  // PERSONA_LAB_UI_ONLY=name[,name]: only those modules (a developer's shortcut; the base checks above always run).
  const only = process.env.PERSONA_LAB_UI_ONLY?.split(',').filter(Boolean);
  for (const f of existsSync(uiDir) ? readdirSync(uiDir).filter((n) => n.endsWith('.mjs') && (!only || only.some((o) => n.startsWith(o)))).sort() : []) {
    const mod = await import(pathToFileURL(path.join(uiDir, f)).href);
    await mod.default(helpers);
  }

  await check('screenshot of the Persona Lab container saved', async () => {
    // The activity-bar icon toggles: click it only when the container is not already showing.
    if (!(await sidebar.locator('.pane-header .title', { hasText: /^Models$/i }).isVisible())) await page.locator('.activitybar .action-item a[aria-label^="Persona Lab"]').click();
    await sidebar.locator('.pane-header .title', { hasText: /^Models$/i }).waitFor();
    await page.waitForTimeout(500); // let the tree finish its first paint
    mkdirSync(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
  });
} finally {
  await closeBrowser(ctx);
  const passed = results.filter((r) => r.ok).length;
  writeFileSync(resultsFile, JSON.stringify({ suite: 'ui', passed, failed: results.length - passed, checks: results }, null, 2));
  process.exitCode = passed === results.length ? 0 : 1;
}
