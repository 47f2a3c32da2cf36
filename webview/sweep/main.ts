/**
 * Sweep dashboard (runs in the webview): per trait, Δτ at each checkpoint with its own vector and the vector's
 * cosine to the final checkpoint's, over revisions in training order, plus the table behind it. Data arrive by
 * postMessage from src/extension/sweepDashboard.ts (the sweep run's results.json); nothing is fetched.
 */
import Chart from 'chart.js/auto';

interface Row { eval_revision: string; trait: string; vector_exists: boolean; effective_rows?: number; delta_trait_mean?: number; output_coherence_mean?: number;
  trait_primary_p_two_sided_bonferroni_within_trait?: number | null; status?: string }
interface Trajectory { revisions: string[]; main: string; toMain: { revision: string; cosine: number }[] }
interface SweepData { title: string; rows: Row[]; trajectories: Record<string, Trajectory | null> }

declare function acquireVsCodeApi(): { postMessage(m: unknown): void };
const vscode = acquireVsCodeApi();
const css = (name: string) => getComputedStyle(document.body).getPropertyValue(name).trim() || undefined;
const fmt = (x: number | null | undefined, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));

function render(data: SweepData): { charts: number; rows: number } {
  const root = document.getElementById('root')!;
  root.replaceChildren();
  const h = document.createElement('h2');
  h.textContent = data.title;
  root.append(h);
  const traits = [...new Set(data.rows.map((r) => r.trait))];
  let charts = 0, rows = 0;
  for (const trait of traits) {
    const rs = data.rows.filter((r) => r.trait === trait);
    const traj = data.trajectories[trait];
    const section = document.createElement('section');
    section.dataset.trait = trait;
    const h3 = document.createElement('h3');
    h3.textContent = trait;
    const canvas = document.createElement('canvas');
    canvas.height = 110;
    section.append(h3, canvas);
    const cos = (rev: string) => (traj && traj.revisions.includes(rev) ? (rev === traj.main ? 1 : traj.toMain.find((x) => x.revision === rev)?.cosine ?? null) : null);
    new Chart(canvas, {
      type: 'line',
      data: {
        labels: rs.map((r) => r.eval_revision),
        datasets: [
          { label: 'Δτ (steered − baseline)', data: rs.map((r) => (r.vector_exists ? r.delta_trait_mean ?? null : null)), yAxisID: 'y', borderColor: css('--vscode-charts-red'), backgroundColor: css('--vscode-charts-red') },
          { label: 'cos(v, v_main)', data: rs.map((r) => cos(r.eval_revision)), yAxisID: 'y1', borderColor: css('--vscode-charts-blue'), backgroundColor: css('--vscode-charts-blue') },
        ],
      },
      options: {
        animation: false, spanGaps: false,
        plugins: { legend: { labels: { color: css('--vscode-foreground') } } },
        scales: {
          x: { ticks: { color: css('--vscode-foreground') } },
          y: { position: 'left', title: { display: true, text: 'Δτ', color: css('--vscode-foreground') }, ticks: { color: css('--vscode-foreground') } },
          y1: { position: 'right', min: -1, max: 1, grid: { drawOnChartArea: false }, title: { display: true, text: 'cosine to main', color: css('--vscode-foreground') }, ticks: { color: css('--vscode-foreground') } },
        },
      },
    });
    charts++;
    const table = document.createElement('table');
    table.innerHTML = '<thead><tr><th>revision</th><th>pairs</th><th>Δτ</th><th>coherence</th><th>p (Bonferroni)</th><th>cos → main</th></tr></thead>';
    const body = document.createElement('tbody');
    for (const r of rs) {
      const tr = document.createElement('tr');
      const p = r.trait_primary_p_two_sided_bonferroni_within_trait;
      const cells = r.vector_exists
        ? [r.eval_revision, String(r.effective_rows ?? ''), fmt(r.delta_trait_mean), fmt(r.output_coherence_mean), typeof p === 'number' ? p.toPrecision(2) : '–', fmt(cos(r.eval_revision), 3)]
        : [r.eval_revision, String(r.effective_rows ?? 0), 'no vector', '', '', ''];
      for (const c of cells) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
      if (!r.vector_exists) tr.title = r.status ?? '';
      body.append(tr);
      rows++;
    }
    table.append(body);
    section.append(table);
    root.append(section);
  }
  return { charts, rows };
}

window.addEventListener('message', (e: MessageEvent<{ type: string; data?: SweepData }>) => {
  if (e.data.type !== 'sweep' || !e.data.data) return;
  try {
    vscode.postMessage({ type: 'rendered', ...render(e.data.data) });
  } catch (err) {
    vscode.postMessage({ type: 'error', message: String((err as Error)?.message ?? err) });
  }
});
vscode.postMessage({ type: 'ready' });
