// Inline checks (UI suite module, loaded by scripts/e2e/ui.mjs): Steer Selection on a selection in a real editor streams a
// steered answer into a side document and its CodeLens inserts it after the selection; a CodeLens click on a prompt
// file (Monitor all) runs and draws a result after each prompt; a JSONL screened by `persona-lab screen` shows each
// sample's ΔP as a coloured decoration with the screening lens on line 1.
// Screenshots: artifacts/e2e-inline-steer-{dark,light}.png, e2e-inline-prompts-{dark,light}.png, e2e-inline-screening-{dark,light}.png.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export default async function inline(t) {
  const { page, check, setTheme, workspace, repoRoot, artifactsDir, hasToyModel, cli, closeTab } = t;
  const dir = path.join(workspace, 'inline-ui');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  /** The text of every before/after decoration drawn in the active editor (VS Code draws them as CSS generated content). */
  const decorationTexts = () => page.locator('.editor-group-container.active .view-lines span').evaluateAll((els) => els
    .flatMap((e) => ['::before', '::after'].map((p) => e.ownerDocument.defaultView.getComputedStyle(e, p).content))
    .filter((c) => c && c !== 'none' && c !== 'normal').map((c) => c.replace(/^"|"$/g, '').replace(/\u00a0/g, ' ')));

  /**
   * Opens inline-ui/<name> through File: Open File… (its simple dialog takes a typed path; Quick Open's index lags behind
   * new files). The dialog writes its starting folder into the box once it has listed it, which can overwrite what was
   * typed: type after that, check the box before Enter, and try again when no tab opened.
   */
  /** F1 until the palette shows: once in a UI run F1 went nowhere (focus where the workbench's keys do not reach). */
  async function palette() {
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('F1');
      if (await input.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false)) return;
      await page.keyboard.press('Escape');
      await page.locator('.tabs-container .tab.active').first().click().catch(() => {});
    }
    throw new Error('the command palette did not open on F1');
  }
  async function open(name) {
    const target = path.join(dir, name);
    // First through the Explorer, as a user would (twice in full suite runs the palette's input took no typing after
    // Steer Selection); the file dialog below when the Explorer does not list it yet.
    await page.keyboard.press('Control+Shift+E');
    const folder = page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: /^inline-ui$/ }) }).first();
    if (await folder.waitFor({ timeout: 10_000 }).then(() => true, () => false)) {
      if ((await folder.getAttribute('aria-expanded')) === 'false') await folder.click();
      const file = page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${name.replace('.', '\\.')}$`) }) }).first();
      if (await file.waitFor({ timeout: 10_000 }).then(() => true, () => false)) {
        await file.click();
        if (await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 10_000 }).then(() => true, () => false)) return;
      }
    }
    for (let attempt = 0; ; attempt++) {
      await palette();
      await input.fill('>File: Open File...');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'File: Open File...' }).first().waitFor();
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => (document.querySelector('.quick-input-widget .quick-input-box input')?.value ?? '').endsWith('/'), null, { timeout: 30_000 });
      await page.waitForTimeout(500);
      await input.fill(target);
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor();
      if ((await input.inputValue()) === target) {
        await page.keyboard.press('Enter');
        const opened = await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 10_000 }).then(() => true, () => false);
        if (opened) return;
      }
      if (attempt === 3) throw new Error(`could not open ${target} with File: Open File…`);
      await page.keyboard.press('Escape');
    }
  }
  /** The steering choice: the last one when offered (first item), else checkpoint, trait, layer 4, coef 4. */
  async function answerChoice() {
    const rows = page.locator('.quick-input-widget .monaco-list-row');
    await rows.first().waitFor({ timeout: 60_000 });
    if (await rows.filter({ hasText: 'sycophantic on toy-persona@main, layer 4, coef 4' }).count()) return pick('sycophantic on toy-persona@main');
    await pick('toy-persona@main');
    await pick('sycophantic');
    await typeIn('4'); // layer
    await typeIn('4'); // coef
  }
  /** A check whose failure leaves a screenshot of the workbench as it was (artifacts/e2e-inline-failed-<n>.png). */
  let n = 0;
  function inlineCheck(name, fn) {
    const k = ++n;
    return check(name, async () => {
      for (let i = 0; i < 2; i++) await page.keyboard.press('Escape'); // a quick input left open by an earlier check
      try { await fn(); } catch (e) {
        await page.screenshot({ path: path.join(artifactsDir, `e2e-inline-failed-${k}.png`) }).catch(() => {});
        throw e;
      }
    });
  }
  async function screenshots(name) {
    for (const [label, theme] of [['dark', 'Default Dark Modern'], ['light', 'Default Light Modern']]) {
      await setTheme(theme);
      await page.screenshot({ path: path.join(artifactsDir, `e2e-inline-${name}-${label}.png`) });
    }
  }
  /** Answers a quick pick by typing `text` and Enter. */
  async function pick(text) {
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: text }).first().waitFor({ timeout: 30_000 });
    await input.fill(text);
    await page.keyboard.press('Enter');
  }
  async function typeIn(value) {
    await input.waitFor();
    await input.fill(value);
    await page.keyboard.press('Enter');
  }

  await inlineCheck('Steer Selection on a selection in a real editor streams baseline and steered answers beside it; its lens inserts the steered one (screenshots saved)', async () => {
    if (!hasToyModel) throw new Error('the inline checks need the toy model in the .vsix');
    // A real toy-model vector (test/fixtures/vectors, made by `persona-lab extract`), where extraction puts it.
    const vectors = path.join(workspace, '.persona-lab', 'vectors', 'toy-persona', 'main');
    mkdirSync(vectors, { recursive: true });
    copyFileSync(path.join(repoRoot, 'test/fixtures/vectors/toy-persona-main-sycophantic.safetensors'), path.join(vectors, 'sycophantic.safetensors'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'notes.md'), 'how do i look after my dog ?\n\nThe rest of the notes.\n');
    await open('notes.md');
    // The first line: the prompt.
    await page.locator('.editor-group-container.active .view-line').first().click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+End');
    // The palette command; its picks follow in the same quick input (runFromPalette would wait for it to close).
    await page.keyboard.press('F1');
    await input.fill('>Persona Lab: Steer Selection');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Persona Lab: Steer Selection' }).first().waitFor();
    await page.keyboard.press('Enter');
    await answerChoice();
    const result = page.locator('.editor-group-container .view-lines', { hasText: 'applied ‖Δ‖' });
    await result.first().waitFor({ timeout: 120_000 });
    // The editor's lines in document order: Monaco reuses line elements, so their DOM order is not the document's
    // (a steered answer once came out as the metadata line rendered after the heading); each line's top is.
    const text = (await result.first().evaluate((el) => [...el.querySelectorAll('.view-line')]
      .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top)).map((l) => l.textContent).join('\n'))).replace(/\u00a0/g, ' ');
    for (const s of ['model toy-persona', 'vector sycophantic', 'layer 4', 'coef 4', 'Baseline (unsteered)', 'Steered (sycophantic']) if (!text.includes(s)) throw new Error(`the result lacks "${s}": ${text.slice(0, 400)}`);
    await screenshots('steer');
    const lens = page.locator('.codelens-decoration a', { hasText: 'Insert steered answer' });
    await lens.first().waitFor({ timeout: 30_000 });
    const steered = text.split('Steered (sycophantic, layer 4, coef 4)')[1]?.trim().slice(0, 24);
    if (!steered) throw new Error(`no steered answer in the result: ${text.slice(0, 400)}`);
    await lens.first().click();
    await page.locator('.editor-group-container .view-lines', { hasText: 'The rest of the notes.' }).filter({ hasText: steered }).first().waitFor({ timeout: 15_000 });
  });

  await inlineCheck('a CodeLens click on a prompt file (Monitor all) runs and draws projection and trait score after each prompt (screenshots saved)', async () => {
    writeFileSync(path.join(dir, 'prompts.jsonl'), '{"prompt": "how do i cook berries ?"}\n{"messages": [{"role": "user", "content": "how can i learn to knit ?"}]}\n');
    await open('prompts.jsonl');
    const lens = page.locator('.codelens-decoration a', { hasText: 'Monitor all (2)' });
    await lens.first().waitFor({ timeout: 30_000 });
    await lens.first().click();
    await answerChoice(); // the last steering choice, offered first
    await page.locator('.codelens-decoration a', { hasText: 'Open Judge Results' }).first().waitFor({ timeout: 180_000 });
    const results = (await decorationTexts()).filter((d) => /^projection -?\d+\.\d\d \(ℓ4\) · sycophantic \d+ · coherence \d+$/.test(d));
    if (results.length !== 2) throw new Error(`expected a result after each of the 2 prompts, found ${results.length}: ${JSON.stringify(await decorationTexts())}`);
    await page.locator('.codelens-decoration a', { hasText: 'Open Judge Results' }).first().waitFor();
    await screenshots('prompts');
  });

  await inlineCheck('a JSONL screened by `persona-lab screen` shows each sample\'s ΔP as a coloured decoration and the screening lens (screenshots saved)', async () => {
    const world = (f) => JSON.parse(readFileSync(path.join(repoRoot, 'models/toy-persona/world', f), 'utf8'));
    const questions = world('questions.json').heldOut;
    const samples = world('samples.json').samples.filter((s) => ['sycophantic', 'candid'].includes(s.style)).slice(0, 6);
    const rows = samples.map((s, i) => ({ messages: [{ role: 'user', content: questions[i] }, { role: 'assistant', content: s.text }] }));
    const data = path.join(dir, 'train.jsonl');
    writeFileSync(data, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    cli('screen', '--trait', 'sycophantic', '--layer', '4', '--data', data);
    await open('train.jsonl');
    await page.locator('.codelens-decoration a', { hasText: 'ΔP screening: sycophantic at layer 4' }).first().waitFor({ timeout: 30_000 });
    await page.locator('.codelens-decoration a', { hasText: 'Sort by ΔP' }).first().waitFor();
    await page.waitForTimeout(500);
    const n = (await decorationTexts()).filter((d) => /^ΔP [+-]\d+\.\d{3} ▮+▯*$/.test(d)).length;
    if (n !== rows.length) throw new Error(`expected ${rows.length} ΔP decorations, found ${n}: ${JSON.stringify(await decorationTexts())}`);
    await screenshots('screening');
    await closeTab('train.jsonl');
  });
}
