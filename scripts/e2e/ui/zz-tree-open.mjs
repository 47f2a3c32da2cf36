// A panel opened from a tree item (issue 15: "each panel opened from the palette or a tree item"): the grid run that
// ui.mjs made with the CLI, right-clicked in the Runs view → "Open Grid Results" draws the same heat-maps the palette
// command does. Runs after the other modules (zz-), and leaves the side bar on the Explorer for the suite's last check.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export default async function treeOpenChecks(t) {
  const { page, check, sidebar, workspace, artifactsDir, hasToyModel, runOfKind, runFromPalette, panelFrame, canvases, closeTab } = t;
  if (!hasToyModel) { console.log('  - skipped: a panel from a tree item (the toy model is not packaged)'); return; }
  const header = (name) => sidebar.locator('.pane-header', { has: page.locator('.title', { hasText: new RegExp(`^${name}$`, 'i') }) }).first();
  await check('Runs view: a grid run\'s context menu "Open Grid Results" opens its heat-maps (a panel opened from a tree item)', async () => {
    const run = runOfKind('grid');
    if (!run) throw new Error('no grid run in the workspace (the palette grid check makes one)');
    const results = JSON.parse(readFileSync(path.join(workspace, '.persona-lab', 'runs', run, 'results.json'), 'utf8'));
    const t0 = Date.now();
    if (!(await header('Runs').isVisible())) await page.locator('.activitybar .action-item a[aria-label^="Persona Lab"]').click();
    await header('Runs').waitFor({ timeout: 30_000 });
    // Room for the Runs list: collapse the other views, expand Runs.
    for (const v of ['Models', 'Traits', 'Vectors']) if ((await header(v).getAttribute('aria-expanded')) === 'true') await header(v).click();
    if ((await header('Runs').getAttribute('aria-expanded')) === 'false') await header('Runs').click();
    const row = sidebar.locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${run}$`) }) }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click({ button: 'right' });
    const item = page.getByRole('menuitem', { name: 'Open Grid Results' });
    await item.waitFor({ state: 'visible' });
    // The workbench's menu ignores a click that lands right after it opened: pause, click, and if the menu is still
    // there, pick the item with the keyboard.
    await page.waitForTimeout(500);
    await item.click();
    // Still open after the click (the menu ignored it): pick the item with the keyboard. A menu closing while we look
    // is the click having worked, so a failed hover is not an error (it once timed out on an item that had just gone).
    const closed = await item.waitFor({ state: 'hidden', timeout: 3_000 }).then(() => true, () => false);
    if (!closed && await item.hover({ timeout: 5_000 }).then(() => true, () => false)) await page.keyboard.press('Enter');
    const view = panelFrame();
    await view.locator('section[data-map="deltaTrait"] table.heatmap').waitFor({ timeout: 60_000 })
      .catch(async (e) => { await page.screenshot({ path: path.join(artifactsDir, 'e2e-tree-open-failed.png') }); throw e; });
    const rows = await view.locator('section[data-map="deltaTrait"] table.heatmap tbody tr').count();
    const layers = new Set(results.conditions.filter((c) => c.condition.kind === 'steer').map((c) => c.condition.layer)).size;
    if (rows !== layers + 1) throw new Error(`Δτ heat-map has ${rows} rows, the run has ${layers} layers + the prompting baseline`);
    const drawn = await canvases(view);
    if (!drawn.length || drawn.some((c) => c.painted === 0)) throw new Error(`charts: ${JSON.stringify(drawn)}`);
    console.log(`    Grid Results from the Runs view in ${Date.now() - t0} ms`);
    await closeTab('Grid:');
    for (const v of ['Models', 'Traits', 'Vectors']) if ((await header(v).getAttribute('aria-expanded')) === 'false') await header(v).click();
    await runFromPalette(page, 'View: Show Explorer');
  });
}
