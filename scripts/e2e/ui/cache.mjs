// Clean Compile Cache… (UI suite module, loaded by scripts/e2e/ui.mjs): the palette command opens a multi-select quick
// pick of the compile cache's entries (the one the extension's worker uses: $PERSONA_LAB_CACHE, else
// ~/.cache/persona-lab/graphs), each with what deleting it frees, titled with the cache's size; Escape deletes nothing.
// With an empty cache it says so instead. Screenshots: artifacts/e2e-clean-cache-{dark,light}.png.
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default async function cacheChecks(t) {
  const { page, check, setTheme, artifactsDir } = t;
  const root = process.env.PERSONA_LAB_CACHE || path.join(os.homedir(), '.cache', 'persona-lab', 'graphs');
  const listing = () => (existsSync(root) ? readdirSync(root).sort() : []);
  const input = page.locator('.quick-input-widget .quick-input-box input');

  await check('Clean Compile Cache: a quick pick of the entries with sizes; Escape deletes nothing (screenshots saved)', async () => {
    const before = listing();
    await page.keyboard.press('F1');
    await input.waitFor();
    await input.fill('>Persona Lab: Clean Compile Cache');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Clean Compile Cache' }).first().waitFor();
    await page.keyboard.press('Enter');
    const title = page.locator('.quick-input-widget .quick-input-title', { hasText: /^Clean Compile Cache: / });
    const empty = page.locator('.notifications-toasts', { hasText: 'The compile cache is empty' });
    await Promise.race([title.waitFor({ timeout: 60_000 }), empty.waitFor({ timeout: 60_000 })]);
    if (await empty.isVisible()) {
      if (before.length) throw new Error(`said the cache is empty, but ${root} holds ${before.length} folders`);
      await page.screenshot({ path: path.join(artifactsDir, 'e2e-clean-cache-empty.png') });
      return;
    }
    const text = await title.textContent();
    if (!/Clean Compile Cache: [\d.]+ (B|KB|MB|GB|TB) in /.test(text ?? '')) throw new Error(`title without the cache size: ${text}`);
    const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    await rows.first().waitFor();
    const descriptions = await rows.evaluateAll((rs) => rs.map((r) => r.querySelector('.label-description')?.textContent ?? '').filter(Boolean));
    if (!descriptions.length || descriptions.some((d) => !/frees [\d.]+ (B|KB|MB|GB|TB)/.test(d))) throw new Error(`rows without what they free: ${JSON.stringify(descriptions.slice(0, 5))}`);
    // The quick pick's own background must have followed the theme before the screenshot: once a "dark" shot came out
    // light (t.setTheme does nothing when the settings file already names the theme, whatever the workbench shows).
    const pickIsDark = () => page.locator('.quick-input-widget').evaluate((el) => {
      const [r, g, b] = el.ownerDocument.defaultView.getComputedStyle(el).backgroundColor.match(/\d+/g).map(Number);
      return r + g + b < 384;
    });
    for (const [label, theme] of [['dark', 'Default Dark Modern'], ['light', 'Default Light Modern']]) {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) await setTheme(label === 'dark' ? 'Default Light Modern' : 'Default Dark Modern');
        await setTheme(theme);
        await title.waitFor();
        if ((await pickIsDark()) === (label === 'dark')) break;
        if (attempt === 2) throw new Error(`the quick pick did not take the ${theme} theme`);
      }
      await page.screenshot({ path: path.join(artifactsDir, `e2e-clean-cache-${label}.png`) });
    }
    await page.keyboard.press('Escape');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    const after = listing();
    const gone = before.filter((n) => !after.includes(n));
    if (gone.length) throw new Error(`Escape deleted entries: ${gone.join(', ')}`);
  });
}
