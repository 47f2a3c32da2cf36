// Inline checks (UI suite module, loaded by scripts/e2e/ui.mjs): Steer Selection on a selection in a real editor streams a
// steered answer into a side document and its CodeLens inserts it after the selection; a CodeLens click on a prompt
// file (Monitor all) runs and draws a result after each prompt; a JSONL screened by `persona-lab screen` shows each
// sample's ΔP as a coloured decoration with the screening lens on line 1.
// Screenshots: artifacts/e2e-inline-steer-{dark,light}.png, e2e-inline-prompts-{dark,light}.png, e2e-inline-screening-{dark,light}.png.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export default async function inline(t) {
  const { page, check, setTheme, workspace, repoRoot, artifactsDir, hasToyModel, runFromPalette, cli, closeTab } = t;
  const dir = path.join(workspace, 'inline-ui');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const editorText = () => page.locator('.editor-group-container.active .view-lines').first().textContent();

  /** Opens a workspace file with Quick Open. */
  async function open(name) {
    await page.keyboard.press('Control+P');
    await input.fill(name);
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor();
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

  await check('Steer Selection on a selection in a real editor streams baseline and steered answers beside it; its lens inserts the steered one (screenshots saved)', async () => {
    if (!hasToyModel) throw new Error('the inline checks need the toy model in the .vsix');
    // A real toy-model vector (test/fixtures/vectors, made by `persona-lab extract`), where extraction puts it.
    const vectors = path.join(workspace, '.persona-lab', 'vectors', 'toy-persona', 'main');
    mkdirSync(vectors, { recursive: true });
    copyFileSync(path.join(repoRoot, 'test/fixtures/vectors/toy-persona-main-sycophantic.safetensors'), path.join(vectors, 'sycophantic.safetensors'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'notes.md'), '# Notes\n\nhow do i look after my dog ?\n\nThe rest of the notes.\n');
    await runFromPalette(page, 'View: Hide Panel');
    await open('notes.md');
    await page.keyboard.press('Control+G');
    await typeIn('3');
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+End');
    // The palette command; its picks follow in the same quick input (runFromPalette would wait for it to close).
    await page.keyboard.press('F1');
    await input.fill('>Persona Lab: Steer Selection');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Persona Lab: Steer Selection' }).first().waitFor();
    await page.keyboard.press('Enter');
    await pick('toy-persona@main');
    await pick('sycophantic');
    await typeIn('4'); // layer
    await typeIn('4'); // coef
    const result = page.locator('.editor-group-container .view-lines', { hasText: 'applied ‖Δ‖' });
    await result.first().waitFor({ timeout: 120_000 });
    const text = await result.first().textContent();
    for (const s of ['model toy-persona', 'vector sycophantic', 'layer 4', 'coef 4', 'Baseline (unsteered)', 'Steered (sycophantic']) if (!text.includes(s)) throw new Error(`the result lacks "${s}": ${text.slice(0, 400)}`);
    await screenshots('steer');
    const lens = page.locator('.codelens-decoration a', { hasText: 'Insert steered answer' });
    await lens.first().waitFor({ timeout: 30_000 });
    await lens.first().click();
    await page.locator('.tabs-container .tab.dirty', { hasText: 'notes.md' }).waitFor({ timeout: 15_000 });
    await page.keyboard.press('Control+S');
  });

  await check('a CodeLens click on a prompt file (Monitor all) runs and draws projection and trait score after each prompt (screenshots saved)', async () => {
    writeFileSync(path.join(dir, 'prompts.jsonl'), '{"prompt": "how do i cook berries ?"}\n{"messages": [{"role": "user", "content": "how can i learn to knit ?"}]}\n');
    await runFromPalette(page, 'View: Close All Editors');
    await open('prompts.jsonl');
    const lens = page.locator('.codelens-decoration a', { hasText: 'Monitor all (2)' });
    await lens.first().waitFor({ timeout: 30_000 });
    await lens.first().click();
    await pick('sycophantic on toy-persona@main'); // the last steering choice, offered first
    await page.locator('.editor-group-container.active .view-lines', { hasText: 'projection' }).first().waitFor({ timeout: 180_000 });
    const text = await editorText();
    const n = (text.match(/projection -?\d+\.\d\d \(ℓ4\) · sycophantic \d+/g) ?? []).length;
    if (n !== 2) throw new Error(`expected a result after each of the 2 prompts, found ${n}: ${text}`);
    await page.locator('.codelens-decoration a', { hasText: 'Open Judge Results' }).first().waitFor();
    await screenshots('prompts');
  });

  await check('a JSONL screened by `persona-lab screen` shows each sample\'s ΔP as a coloured decoration and the screening lens (screenshots saved)', async () => {
    const world = (f) => JSON.parse(readFileSync(path.join(repoRoot, 'models/toy-persona/world', f), 'utf8'));
    const questions = world('questions.json').heldOut;
    const samples = world('samples.json').samples.filter((s) => ['sycophantic', 'candid'].includes(s.style)).slice(0, 6);
    const rows = samples.map((s, i) => ({ messages: [{ role: 'user', content: questions[i] }, { role: 'assistant', content: s.text }] }));
    const data = path.join(dir, 'train.jsonl');
    writeFileSync(data, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    cli('screen', '--trait', 'sycophantic', '--layer', '4', '--data', data);
    await runFromPalette(page, 'View: Close All Editors');
    await open('train.jsonl');
    await page.locator('.codelens-decoration a', { hasText: 'ΔP screening: sycophantic at layer 4' }).first().waitFor({ timeout: 30_000 });
    await page.locator('.codelens-decoration a', { hasText: 'Sort by ΔP' }).first().waitFor();
    const text = await editorText();
    const n = (text.match(/ΔP [+-]\d+\.\d{3}/g) ?? []).length;
    if (n !== rows.length) throw new Error(`expected ${rows.length} ΔP decorations, found ${n}: ${text.slice(0, 400)}`);
    await screenshots('screening');
    await closeTab('train.jsonl');
  });
}
