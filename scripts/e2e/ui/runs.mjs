// Runs view checks (issue 15 Runs, issue 14 editor Slurm flow): a toy sweep submitted to the local Slurm cluster
// (scripts/slurm/cluster.sh; the same plan the editor's Run Checkpoint Sweep → Slurm writes, submitted here with the
// CLI because this code-server's extension host was started without the cluster's SLURM_CONF), then the Runs view in
// the browser: the plan on top with "2/2 units done, merge done", its array tasks and merge with their states and job
// ids, the merged sweep under the plan and the sweep's stage runs under the sweep. Screenshots in dark and light:
// artifacts/e2e-runs-slurm-{dark,light}.png. Without root or slurm-wlm the check is not run and says why.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export default async function runsChecks(t) {
  const { page, check, sidebar, repoRoot, workspace, artifactsDir, hasToyModel, runFromPalette, setTheme } = t;
  const script = path.join(repoRoot, 'scripts', 'slurm', 'cluster.sh');
  const why = !hasToyModel ? 'the toy model is not packaged' : process.getuid?.() !== 0 ? 'the local Slurm cluster needs root' : !existsSync(script) ? `no ${script}` : undefined;
  if (why) { console.log(`  - skipped: Runs view with a Slurm sweep (${why})`); return; }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pl-ui-slurm-'));
  const port = 23000 + (process.pid % 2000) * 2;
  const env = { ...process.env, PERSONA_LAB_SLURM_DIR: path.join(tmp, 'cluster'), PERSONA_LAB_SLURM_CTLD_PORT: String(port), PERSONA_LAB_SLURM_SLURMD_PORT: String(port + 1),
    PERSONA_LAB_SLURM_NODE: 'pl-ui-node', SLURM_CONF: path.join(tmp, 'cluster', 'slurm.conf') };
  try {
    await run('bash', [script, 'start'], { env, timeout: 300_000 });
  } catch (e) {
    if (e.code === 3) { console.log(`  - skipped: Runs view with a Slurm sweep (no local Slurm: ${String(e.stderr).trim().split('\n').pop()})`); rmSync(tmp, { recursive: true, force: true }); return; }
    throw e;
  }
  const ws = path.join(workspace, '.persona-lab');
  const cli = (...args) => run(process.execPath, [path.join(repoRoot, 'dist/cli.js'), ...args], { env, timeout: 600_000 });
  try {
    await check('Runs view: a Slurm sweep shows its array tasks done, the merged sweep under the plan and its stage runs under the sweep (screenshots saved)', async () => {
      const t0 = Date.now();
      const { stdout } = await cli('sweep', '--trait', 'evil', '--revisions', 'stage1-step550,main', '--max-questions', '2', '--samples', '1', '--eval-samples', '1',
        '--slurm', '--submit', '--slurm-mem', '1G', '--slurm-cpus-per-task', '1', '--slurm-throttle', '2', '--workspace', ws, '--json');
      const { runDir } = JSON.parse(stdout);
      for (;;) {
        const s = JSON.parse((await cli('jobs', 'status', runDir, '--json')).stdout);
        if ([...s.units.map((u) => u.state), s.merge?.state].every((x) => x === 'done')) break;
        if ([...s.units.map((u) => u.state), s.merge?.state].some((x) => ['failed', 'cancelled', 'timeout'].includes(x))) throw new Error(`the plan failed: ${JSON.stringify(s.units)}`);
        if (Date.now() - t0 > 480_000) throw new Error(`the plan did not finish: ${JSON.stringify(s.units)}`);
        await page.waitForTimeout(2000);
      }
      console.log(`    Slurm toy sweep (2 units + merge) done in ${Date.now() - t0} ms`);
      // The activity-bar icon toggles the container: open it only if hidden, and leave it as found (the next module clicks it too).
      const icon = page.locator('.activitybar .action-item a[aria-label^="Persona Lab"]');
      const wasShown = await sidebar.locator('.pane-header .title', { hasText: /^Runs$/i }).first().isVisible().catch(() => false);
      if (!wasShown) await icon.click();
      await runFromPalette(page, 'Persona Lab: Refresh');
      // Room for the Runs view: fold the other three views while looking at it.
      const header = (name) => sidebar.locator('.pane-header', { has: page.locator('.title', { hasText: new RegExp(`^${name}$`, 'i') }) }).first();
      const folded = [];
      try {
        for (const v of ['Models', 'Traits', 'Vectors']) if ((await header(v).getAttribute('aria-expanded')) === 'true') { await header(v).click(); folded.push(v); }
        if ((await header('Runs').getAttribute('aria-expanded')) === 'false') await header('Runs').click();
        // A row by its label alone (a row's text also holds its description, and the plan's says "merge done").
        const esc = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const row = (label) => sidebar.locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: label instanceof RegExp ? label : new RegExp(`^${esc(label)}$`) }) }).first();
        const expand = async (r) => { await r.waitFor({ timeout: 30_000 }); if ((await r.getAttribute('aria-expanded')) === 'false') await r.locator('.monaco-tl-twistie').click(); };
        const plan = row('Slurm sweep toy-persona-evil');
        await expand(plan);
        if (!(await plan.textContent()).includes('2/2 units done, merge done')) throw new Error(`plan row: ${await plan.textContent()}`);
        for (const task of ['0 stage1-step550/evil', '1 main/evil', 'merge']) {
          const text = await row(task).textContent({ timeout: 20_000 });
          if (!/done · job \d+/.test(text)) throw new Error(`task row "${task}": ${text}`);
        }
        const sweep = row(/^sweep-toy-persona-evil/);
        await expand(sweep);
        if (!/sweep · done · 2\/2 units/.test(await sweep.textContent())) throw new Error(`sweep row: ${await sweep.textContent()}`);
        for (const stage of ['extract stage1-step550 evil', 'evaluate main evil']) await row(stage).waitFor({ timeout: 20_000 });
        await page.waitForTimeout(500);
        for (const [label, theme] of [['dark', 'Default Dark Modern'], ['light', 'Default Light Modern']]) {
          await setTheme(theme);
          await page.screenshot({ path: path.join(artifactsDir, `e2e-runs-slurm-${label}.png`) });
        }
      } catch (e) {
        await page.screenshot({ path: path.join(artifactsDir, 'e2e-runs-slurm-failed.png') });
        throw e;
      } finally {
        for (const v of folded) await header(v).click();
        if (!wasShown) await icon.click();
      }
    });
  } finally {
    await run('bash', [script, 'stop'], { env, timeout: 120_000 }).catch((e) => console.log(`    cluster stop: ${e.message}`));
    rmSync(tmp, { recursive: true, force: true });
  }
}
