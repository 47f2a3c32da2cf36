// Trees and judge logprobs (issue 15): at the default sidebar width every Models and Traits row shows its whole
// description (no ellipsis), the Traits view lists the toy's traits with their extract and eval files; a real toy
// extraction judged by an LLM judge (a local server replaying the recorded OpenAI payloads of test/fixtures/judge, so
// every answer gets the same top-logprob distribution) opens in Judge Results, and a row's detail pane shows the judge's
// top-logprob table behind each score. Screenshots: artifacts/e2e-trees.png (the container),
// artifacts/e2e-judge-logprobs-{dark,light}.png.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

export default async function treesChecks(t) {
  const { page, check, sidebar, repoRoot, workspace, artifactsDir, hasToyModel, runOfKind, runFromPalette, openRunPanel, panelFrame, themedScreenshots, closeTab } = t;
  // The CLI runs asynchronously here (t.cli blocks this process, and with it the judge server below that the CLI calls).
  const cli = (...args) => promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist/cli.js'), ...args, '--threads', '1', '--workspace', path.join(workspace, '.persona-lab')], { timeout: 300_000 });
  if (!hasToyModel) { console.log('  - skipped: trees and judge logprobs (the toy model is not packaged)'); return; }
  const header = (name) => sidebar.locator('.pane-header', { has: page.locator('.title', { hasText: new RegExp(`^${name}$`, 'i') }) }).first();
  const row = (label) => sidebar.locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
  const expand = async (r) => { await r.waitFor({ timeout: 30_000 }); if ((await r.getAttribute('aria-expanded')) === 'false') await r.locator('.monaco-tl-twistie').click(); };
  /** Rows of the Models and Traits views whose label or description is cut (the label container is narrower than its content). */
  const truncated = () => sidebar.locator('.pane').evaluateAll((panes) => panes
    .filter((p) => /^(models|traits)$/i.test(p.querySelector('.pane-header .title')?.textContent?.trim() ?? ''))
    .flatMap((p) => [...p.querySelectorAll('.monaco-list-row')]).flatMap((r) => {
      const c = r.querySelector('.monaco-icon-label-container');
      return c && c.scrollWidth > c.clientWidth + 1 ? [`${r.textContent} (${c.scrollWidth} > ${c.clientWidth} px)`] : [];
    }));

  await check('Trees: at the default sidebar width no Models or Traits row is cut; traits list their extract and eval files (screenshot saved)', async () => {
    await page.locator('.activitybar .action-item a[aria-label^="Persona Lab"]').click();
    for (const v of ['Models', 'Traits']) if ((await header(v).getAttribute('aria-expanded')) === 'false') await header(v).click();
    await expand(row('toy-persona'));
    await expand(row('Toy model'));
    await expand(row('evil'));
    await row('extract/evil.json').waitFor({ timeout: 20_000 });
    const desc = await row('evil').locator('.label-description').textContent();
    if (desc !== 'extract · eval') throw new Error(`evil's description: "${desc}"`);
    const width = await sidebar.evaluate((e) => e.getBoundingClientRect().width);
    const cut = await truncated();
    if (cut.length) throw new Error(`cut at ${width} px: ${cut.join(' | ')}`);
    await sidebar.screenshot({ path: path.join(artifactsDir, 'e2e-trees.png') });
    console.log(`    sidebar ${Math.round(width)} px wide, no Models or Traits row cut`);
    // Leave the side bar on the Explorer: the suite's last check opens the Persona Lab container by clicking its icon (a toggle).
    await runFromPalette(page, 'View: Show Explorer');
  });

  // An LLM judge on 127.0.0.1 that replays the recorded payloads (trait 85, coherence 98, top_logprobs 20).
  const fixtures = path.join(repoRoot, 'test', 'fixtures', 'judge');
  if (!existsSync(path.join(fixtures, 'trait-85.json'))) { console.log('  - skipped: judge logprobs (no test/fixtures/judge)'); return; }
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const prompt = JSON.parse(body).messages[0].content;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(readFileSync(path.join(fixtures, prompt.startsWith('I am evaluating a different language model') ? 'coherence-98.json' : 'trait-85.json')));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await check('Judge Results: an LLM-judged row shows the judge\'s top-logprob distribution behind each score (screenshots saved)', async () => {
      const url = `http://127.0.0.1:${server.address().port}/v1`;
      // Every pair scores trait 85 on both sides, so the paired filter drops them all: exit 3 (not extractable), a run with judged rows.
      try { await cli('extract', '--trait', 'impolite', '--max-questions', '1', '--samples', '1', '--judge-base-url', url, '--run-id', 'extract-ui-llm-judge'); } catch (e) { if (e.code !== 3) throw e; }
      const run = runOfKind('extract', 'ui-llm-judge');
      if (!run) throw new Error('the extraction left no run');
      const recs = readFileSync(path.join(workspace, '.persona-lab', 'runs', run, 'judgements.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const withProbs = recs.filter((r) => r.probs);
      if (withProbs.length !== recs.length) throw new Error(`${withProbs.length} of ${recs.length} judgements carry probs`);
      await openRunPanel('Persona Lab: Open Judge Results', run);
      const view = panelFrame();
      await view.locator('#count').waitFor({ timeout: 60_000 });
      await view.locator('.vrow:not(.head)').first().click();
      const table = view.locator('table[data-logprobs="trait"]');
      await table.waitFor({ timeout: 20_000 });
      const tokens = Object.keys(withProbs.find((r) => r.metric === 'trait').probs).length;
      const rows = await table.locator('tbody tr').count();
      if (rows !== tokens) throw new Error(`the trait table has ${rows} rows for ${tokens} tokens`);
      const caption = await table.locator('caption').textContent();
      if (!/trait 8\d\.\d/.test(caption)) throw new Error(`caption: ${caption}`);
      await view.locator('table[data-logprobs="coherence"]').waitFor();
      await view.locator('#detail').scrollIntoViewIfNeeded();
      await themedScreenshots('judge-logprobs', view);
      await closeTab('Judge Results:');
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
