// Headless Debian Chromium driven by playwright-core (no browser download: executablePath).
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM } from './codeServer.mjs';
import { killTree, processTree } from './procs.mjs';

export async function openBrowser(tmpdir) {
  const profile = mkdtempSync(path.join(tmpdir, 'chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 900 }, timeout: 60_000,
    // Chromium writes crash reports under XDG_CONFIG_HOME whatever --user-data-dir says.
    env: { ...process.env, XDG_CONFIG_HOME: profile },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = ctx.pages()[0] ?? await ctx.newPage();
  page.setDefaultTimeout(30_000);
  return { ctx, page };
}

/** Close politely for up to 10 s, then kill whatever this driver still has running below it (Chromium). */
export async function closeBrowser(ctx) {
  await Promise.race([ctx.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
  for (const pid of processTree(process.pid).slice(1)) await killTree(pid, 2000);
}

/** Runs a command from the palette by its title ("Persona Lab: Show Log"). */
export async function runFromPalette(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/** Browser-console lines that are expected offline and say nothing about the extension. */
export const HARMLESS = /open-vsx\.org|ENOTFOUND|authentication provider 'github'|Failed to load resource.*404|favicon/i;
