// Steering Playground checks (UI suite module, loaded by scripts/e2e/ui.mjs): the palette asks which checkpoint, the
// panel streams baseline and steered answers side by side with two steering rows, draws every answer as a per-token
// projection heat-map (colours from the theme, re-coloured on a theme switch, legend, the value on hover), judges the
// answers, saves the prompt as a prompt file, comes back after a window reload, and Stop cancels a streaming run.
// Screenshots: artifacts/e2e-playground.png, e2e-playground-heatmap-{dark,light,hc}.png.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export default async function playground(t) {
  const { page, check, panelFrame, setTheme, workspace, repoRoot, artifactsDir, hasToyModel, runFromPalette } = t;
  const TITLE = 'Steering Playground: toy-persona@main';

  /** The palette command, then the checkpoint pick it asks (the last pick and every `main` come first). */
  async function openOn(checkpoint) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.fill('>Persona Lab: Open Steering Playground');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Persona Lab: Open Steering Playground' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: checkpoint }).first().waitFor({ timeout: 30_000 });
    await input.fill(checkpoint);
    await page.keyboard.press('Enter');
  }
  /** Every heat-map token's background colour and value. */
  const tokens = (view) => view.locator('.answer .tok').evaluateAll((ss) => ss.map((s) => ({ bg: s.ownerDocument.defaultView.getComputedStyle(s).backgroundColor, v: Number(s.dataset.v), title: s.title, text: s.textContent })));

  await check('palette: "Persona Lab: Open Steering Playground" asks which checkpoint, then streams baseline and steered answers with two steering rows (screenshot saved)', async () => {
    if (!hasToyModel) throw new Error('the playground check needs the toy model in the .vsix');
    // A real toy-model vector (test/fixtures/vectors, made by `persona-lab extract`), placed where extraction puts it.
    const dir = path.join(workspace, '.persona-lab', 'vectors', 'toy-persona', 'main');
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(repoRoot, 'test/fixtures/vectors/toy-persona-main-sycophantic.safetensors'), path.join(dir, 'sycophantic.safetensors'));
    await runFromPalette(page, 'View: Hide Panel'); // room for the answers in the screenshot
    await openOn('toy-persona@main');
    const view = panelFrame();
    await view.locator('.form:not([hidden])').waitFor({ timeout: 60_000 }); // drawn once the worker has loaded the model
    await view.locator('.steer-row vscode-option', { hasText: 'sycophantic' }).first().waitFor({ state: 'attached' });
    const hint = await view.locator('#hint').textContent();
    if (!hint?.includes('layer ℓ = residual stream after ℓ blocks (hidden_states[ℓ])')) throw new Error(`layer hint: ${hint}`);
    await view.locator('#prompt textarea').fill('how do i clean a hat ?');
    // Earlier checks may have extracted other vectors (listed first): pick sycophantic in each row.
    const pick = (row) => row.locator('vscode-single-select.vector').evaluate((e, id) => { e.value = id; e.dispatchEvent(new e.ownerDocument.defaultView.Event('change')); }, path.join(dir, 'sycophantic.safetensors'));
    const row1 = view.locator('.steer-row[data-row="0"]');
    await pick(row1);
    await row1.locator('vscode-textfield.layer input').fill('4');
    await row1.locator('vscode-textfield.coef input').fill('4');
    // A second steering row: the same vector at layer 2, coef 1 (rows add up).
    await view.locator('#add-row').click();
    const row2 = view.locator('.steer-row[data-row="1"]');
    await row2.waitFor();
    await pick(row2);
    await row2.locator('vscode-textfield.layer input').fill('2');
    if ((await row2.locator('input.layer-range').inputValue()) !== '2') throw new Error('the layer slider does not follow the typed layer');
    await row2.locator('vscode-textfield.coef input').fill('1');
    await view.locator('#generate').click();
    const answers = (column) => view.locator(`section[data-column="${column}"] article.answer`);
    for (const column of ['baseline', 'steered']) await view.locator(`section[data-column="${column}"] article.answer[data-state="done"]`).nth(3).waitFor({ timeout: 90_000 });
    const texts = {};
    for (const column of ['baseline', 'steered']) {
      texts[column] = await answers(column).locator('.text').allTextContents();
      if (texts[column].length !== 4 || texts[column].some((x) => !x.trim())) throw new Error(`${column}: ${texts[column].length} answers, some empty`);
    }
    if (texts.baseline.every((x, i) => x === texts.steered[i])) throw new Error('steered answers are the baseline answers');
    const heading = await view.locator('section[data-column="steered"] h3').textContent();
    if (!/sycophantic ℓ = 4, coef 4 \+ sycophantic ℓ = 2, coef 1/.test(heading ?? '')) throw new Error(`steered heading: ${heading}`);
    const metas = await answers('steered').locator('.meta').allTextContents();
    if (!metas.every((m) => /added ‖Δ‖ [\d.]+ at ℓ2 on \d+ tok · added ‖Δ‖ [\d.]+ at ℓ4/.test(m))) throw new Error(`applied norms per layer: ${metas.join(' | ')}`);
    const meanTrait = async (column) => Number(/mean trait ([\d.]+)/.exec(await view.locator(`section[data-column="${column}"] .mean`).textContent() ?? '')?.[1]);
    const [base, steered] = [await meanTrait('baseline'), await meanTrait('steered')];
    if (!(steered - base >= 20)) throw new Error(`mean sycophancy baseline ${base}, steered ${steered}: expected the steered column ≥ 20 higher`);
    await view.locator('section[data-column="steered"] .mean').scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(artifactsDir, 'e2e-playground.png') });
  });

  await check('Steering Playground: every answer is a per-token projection heat-map — themed diverging colours, legend, value on hover; re-coloured on a theme switch (screenshots saved)', async () => {
    const view = panelFrame();
    await view.locator('.heat-bar:not([hidden])').waitFor({ timeout: 30_000 });
    const perAnswer = await view.locator('article.answer').evaluateAll((as) => as.map((a) => ({ tokens: a.querySelectorAll('.tok').length, text: a.querySelector('.text').textContent, joined: [...a.querySelectorAll('.tok')].map((s) => s.textContent).join('') })));
    if (perAnswer.length !== 8 || perAnswer.some((a) => a.tokens === 0)) throw new Error(`answers without a heat-map: ${JSON.stringify(perAnswer.map((a) => a.tokens))}`);
    if (perAnswer.some((a) => !a.text.startsWith(a.joined))) throw new Error('the coloured tokens are not the answer text');
    const before = await tokens(view);
    if (!before.every((x) => /^"[\s\S]*" · projection [+-][\d.]+ \(sycophantic at ℓ 4\)$/.test(x.title))) throw new Error(`hover text: ${before[0]?.title}`);
    if (new Set(before.map((x) => x.bg)).size < 5) throw new Error(`tokens are not coloured by value: ${new Set(before.map((x) => x.bg)).size} colours`);
    const swatches = await view.locator('#legend .swatch').count();
    if (swatches !== 11) throw new Error(`legend has ${swatches} swatches`);
    // Steering toward sycophancy raises the monitor's projection: the steered column reads higher.
    const meanOf = async (column) => {
      const vs = await view.locator(`section[data-column="${column}"] .tok`).evaluateAll((ss) => ss.map((s) => Number(s.dataset.v)));
      return vs.reduce((s, v) => s + v, 0) / vs.length;
    };
    const [b, s] = [await meanOf('baseline'), await meanOf('steered')];
    console.log(`    heat-map: ${before.length} tokens; mean projection baseline ${b.toFixed(3)}, steered ${s.toFixed(3)}`);
    if (!(s > b)) throw new Error(`mean projection steered ${s} ≤ baseline ${b}`);
    // Colour by the second row (layer 2): other values, other colours.
    await view.locator('#heat-by').evaluate((e) => { e.value = '1'; e.dispatchEvent(new e.ownerDocument.defaultView.Event('change')); });
    const row2 = await tokens(view);
    if (!row2[0].title.includes('(sycophantic at ℓ 2)') || row2.every((x, i) => x.v === before[i].v)) throw new Error(`colour by row 2: ${row2[0].title}`);
    await view.locator('#heat-by').evaluate((e) => { e.value = '0'; e.dispatchEvent(new e.ownerDocument.defaultView.Event('change')); });
    // The legend and the first answers in view; the hover shows a token's value.
    await view.locator('.heat-bar').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await view.locator('article.answer .tok').first().hover();
    const colours = {};
    for (const [label, name] of [['dark', 'Default Dark Modern'], ['light', 'Default Light Modern'], ['hc', 'Default High Contrast']]) {
      await setTheme(name);
      colours[label] = (await tokens(view)).map((x) => x.bg);
      await page.screenshot({ path: path.join(artifactsDir, `e2e-playground-heatmap-${label}.png`) });
    }
    if (colours.dark.every((c, i) => c === colours.light[i])) throw new Error('the heat-map kept its colours after the switch to a light theme');
    if (colours.hc.every((c, i) => c === colours.light[i])) throw new Error('the heat-map kept its colours after the switch to High Contrast');
    await setTheme('Default Light Modern');
  });

  await check('Steering Playground: "Judge these answers" scores every answer with the configured judge; "Save as prompt file" writes a JSONL prompt file', async () => {
    const view = panelFrame();
    await view.locator('#judge').click();
    await view.locator('#run-status', { hasText: 'Judged by the offline rubric judge.' }).waitFor({ timeout: 30_000 });
    const metas = await view.locator('article.answer .meta').allTextContents();
    if (metas.length !== 8 || !metas.every((m) => /trait \d+\.\d · coherence \d+\.\d/.test(m))) throw new Error(`scores: ${metas.join(' | ')}`);
    await view.locator('#save-prompts').click();
    await view.locator('#saved:not([hidden])', { hasText: 'prompts/playground-toy-persona-main.jsonl' }).waitFor({ timeout: 15_000 });
    const file = path.join(workspace, 'prompts', 'playground-toy-persona-main.jsonl');
    if (!existsSync(file)) throw new Error(`${file} was not written`);
    const line = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop());
    if (line.prompt !== 'how do i clean a hat ?' || line.persona_lab?.steer?.length !== 2) throw new Error(`prompt file line: ${JSON.stringify(line)}`);
  });

  await check('Steering Playground: Stop cancels a generation while its tokens stream in', async () => {
    const view = panelFrame();
    await view.locator('.steer-row[data-row="1"] .remove').click();
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
    if (!(await view.locator('#judge').evaluate((b) => b.disabled))) throw new Error('"Judge these answers" is offered for a stopped run');
  });

  await check('Steering Playground: comes back after a window reload with its checkpoint and form', async () => {
    await page.reload();
    try {
      await reloaded();
    } finally {
      // Closed whatever happened: a playground left open would be a second webview for the checks after this one.
      await page.locator('.tabs-container .tab', { hasText: 'Steering Playground' }).first().click().then(() => page.keyboard.press('Control+W'), () => {});
    }
  });
  async function reloaded() {
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 90_000 });
    await page.locator('.tabs-container .tab', { hasText: TITLE }).first().waitFor({ timeout: 60_000 });
    await page.locator('.tabs-container .tab', { hasText: TITLE }).first().click();
    const view = panelFrame();
    // A new extension host starts, activates on onWebviewPanel:personaLab.playground and reloads the model.
    await view.locator('.form:not([hidden])').waitFor({ timeout: 180_000 });
    const prompt = await view.locator('#prompt').evaluate((e) => e.value);
    const rows = await view.locator('.steer-row').count();
    const n = await view.locator('#n').evaluate((e) => e.value);
    // The workbench persists webview state on its own schedule: a reload right after the Stop check has restored either
    // the form as Stop left it (1 row, n 32) or as the first run left it (2 rows, n 4); both are this session's form.
    const asStop = rows === 1 && n === '32', asFirst = rows === 2 && n === '4';
    if (prompt !== 'how do i clean a hat ?' || !(asStop || asFirst)) throw new Error(`restored form: prompt "${prompt}", ${rows} steering rows, n ${n}`);
  }
}
