// UI suite: a normal code-server instance with the .vsix installed, driven like a user would.
// Each check below is one counted test; a failed check is recorded and the next one still runs.
// Usage (run.mjs calls it): node scripts/e2e/ui.mjs <url> <workspace> <installed-extension-dir> <results.json> <screenshot.png>
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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

try {
  console.log('UI suite');
  await check('workbench loads', async () => {
    await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
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
    const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    for (const trait of ['evil', 'sycophantic']) await view.locator(`section[data-trait="${trait}"] canvas`).waitFor({ timeout: 60_000 });
    const rows = await view.locator('tbody tr').count();
    if (rows !== 10) throw new Error(`expected 10 table rows (5 revisions × 2 traits), found ${rows}`);
    const firstCells = await view.locator('section[data-trait="sycophantic"] tbody tr').last().locator('td').allTextContents();
    if (firstCells[0] !== 'main' || firstCells[5] !== '1.000') throw new Error(`last sycophantic row: ${firstCells.join(' | ')}`);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(path.dirname(screenshot), 'e2e-sweep-dashboard.png') });
    await page.keyboard.press('Control+W');
  });

  await check('palette: "Persona Lab: Open Steering Playground" streams baseline and steered answers side by side (screenshot saved)', async () => {
    if (!hasToyModel) throw new Error('the playground check needs the toy model in the .vsix');
    // A real toy-model vector (test/fixtures/vectors, made by `persona-lab extract`), placed where extraction puts it.
    const dir = path.join(workspace, '.persona-lab', 'vectors', 'toy-persona', 'main');
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(repoRoot, 'test/fixtures/vectors/toy-persona-main-sycophantic.safetensors'), path.join(dir, 'sycophantic.safetensors'));
    await runFromPalette(page, 'View: Hide Panel'); // room for the answers in the screenshot
    await runFromPalette(page, 'Persona Lab: Open Steering Playground');
    const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await view.locator('.form:not([hidden])').waitFor({ timeout: 60_000 }); // drawn once the worker has loaded the model
    await view.locator('#vector vscode-option', { hasText: 'sycophantic' }).waitFor({ state: 'attached' });
    const hint = await view.locator('#hint').textContent();
    if (!hint?.includes('layer ℓ = residual stream after ℓ blocks (hidden_states[ℓ])')) throw new Error(`layer hint: ${hint}`);
    await view.locator('#prompt textarea').fill('how do i clean a hat ?');
    await view.locator('#generate').click();
    const answers = (column) => view.locator(`section[data-column="${column}"] article.answer`);
    for (const column of ['baseline', 'steered']) await view.locator(`section[data-column="${column}"] article.answer[data-state="done"]`).nth(3).waitFor({ timeout: 60_000 });
    const texts = {};
    for (const column of ['baseline', 'steered']) {
      texts[column] = await answers(column).locator('.text').allTextContents();
      if (texts[column].length !== 4 || texts[column].some((t) => !t.trim())) throw new Error(`${column}: ${texts[column].length} answers, some empty`);
    }
    if (texts.baseline.every((t, i) => t === texts.steered[i])) throw new Error('steered answers are the baseline answers');
    const meanTrait = async (column) => Number(/mean trait ([\d.]+)/.exec(await view.locator(`section[data-column="${column}"] .mean`).textContent() ?? '')?.[1]);
    const [base, steered] = [await meanTrait('baseline'), await meanTrait('steered')];
    if (!(steered - base >= 20)) throw new Error(`mean sycophancy baseline ${base}, steered ${steered}: expected the steered column ≥ 20 higher`);
    await view.locator('section[data-column="steered"] .mean').scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(path.dirname(screenshot), 'e2e-playground.png') });
  });

  await check('Steering Playground: Stop cancels a generation while its tokens stream in', async () => {
    const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    // 2 × 32 answers of 200 tokens: at temperature 5 the toy's sampling is near uniform over its 650 words, so
    // <end> (p ≈ 1/650 a step) rarely ends a row early and the run takes ~10 s; at 0.8 the answers stop after
    // ~40 tokens and a fresh CI machine once finished the whole run before Stop arrived.
    for (const [id, value] of [['n', '32'], ['maxTokens', '200'], ['temperature', '5']]) await view.locator(`#${id} input`).fill(value);
    await view.locator('#generate').click();
    await view.locator('section[data-column="steered"] article.answer[data-state="streaming"] .text').filter({ hasText: /\S/ }).first().waitFor({ timeout: 30_000 });
    await view.locator('#stop').click();
    await view.locator('#run-status', { hasText: 'Stopped.' }).waitFor({ timeout: 30_000 });
    const cancelled = await view.locator('article.answer[data-state="cancelled"]').count();
    if (cancelled !== 64) throw new Error(`${cancelled} of 64 answers marked cancelled`);
    if (await view.locator('#generate').evaluate((b) => b.disabled)) throw new Error('Generate stays disabled after Stop');
    await page.locator('.tabs-container .tab', { hasText: 'Steering Playground' }).click();
    await page.keyboard.press('Control+W');
  });

  await check('screenshot of the Persona Lab container saved', async () => {
    await page.locator('.activitybar .action-item a[aria-label^="Persona Lab"]').click();
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
