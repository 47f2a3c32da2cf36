/**
 * The editor's colour theme for every drawing in a panel (charts, heat-maps, the playground's token colours), without
 * chart.js: colours come from the --vscode-* variables, read again whenever the theme changes (VS Code rewrites the
 * page's CSS variables and the body's vscode-light/-dark/-high-contrast class). `onTheme` registers a redraw and starts
 * the one watcher of the page, so whatever draws with the theme follows it live, whether or not a chart is on the page.
 * Panels without charts import this module (and ./heatmap.ts), never ./charts.ts, so their bundles carry no chart.js.
 */
export interface Theme { fg: string; muted: string; grid: string; bg: string; highContrast: boolean; series: string[] }

const cssVar = (name: string, fallback: string): string =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

export function theme(): Theme {
  const highContrast = document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light');
  const dark = document.body.classList.contains('vscode-dark') || document.body.classList.contains('vscode-high-contrast');
  const fg = cssVar('--vscode-editor-foreground', cssVar('--vscode-foreground', dark ? '#cccccc' : '#333333'));
  const contrast = cssVar('--vscode-contrastBorder', '');
  return {
    fg, highContrast,
    muted: cssVar('--vscode-descriptionForeground', fg),
    bg: cssVar('--vscode-editor-background', dark ? '#1e1e1e' : '#ffffff'),
    grid: highContrast && contrast ? contrast : cssVar('--vscode-editorIndentGuide-background1', cssVar('--vscode-panel-border', dark ? '#444444' : '#dddddd')),
    series: ['--vscode-charts-red', '--vscode-charts-blue', '--vscode-charts-green', '--vscode-charts-orange', '--vscode-charts-purple', '--vscode-charts-yellow']
      .map((v, i) => cssVar(v, ['#f14c4c', '#3794ff', '#89d185', '#d18616', '#b180d7', '#cca700'][i])),
  };
}

/** A dataset colour by index, from the current theme. */
export const seriesColour = (i: number, t = theme()): string => t.series[i % t.series.length];

/** A CSS colour as [r, g, b], normalised by the canvas (theme variables resolve to #rrggbb or rgba()). */
export function rgb(c: string): [number, number, number] {
  const g = document.createElement('canvas').getContext('2d')!;
  g.fillStyle = c;
  const s = g.fillStyle; // normalised to #rrggbb or rgba()
  if (s.startsWith('#')) return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)) as [number, number, number];
  const m = /(\d+),\s*(\d+),\s*(\d+)/.exec(s);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [128, 128, 128];
}

/**
 * The diverging colour of f ∈ [−1, 1] (clamped): the theme's red above 0, its blue below, the background at 0; the text
 * colour that reads on it. Heat-map cells and the playground's tokens use it.
 */
export function divergingColour(f: number, t: Theme): { bg: string; fg: string } {
  const [r, g, b] = rgb(f >= 0 ? t.series[0] : t.series[1]);
  const [br, bg, bb] = rgb(t.bg);
  const a = Math.min(1, Math.abs(f)) * 0.85;
  const mix = [r * a + br * (1 - a), g * a + bg * (1 - a), b * a + bb * (1 - a)];
  const lum = (0.2126 * mix[0] + 0.7152 * mix[1] + 0.0722 * mix[2]) / 255;
  return { bg: `rgb(${mix.map(Math.round).join(',')})`, fg: lum > 0.55 ? '#000000' : '#ffffff' };
}

const listeners = new Set<(t: Theme) => void>();

/** Calls every registered redraw with the current theme now (the watcher calls it on a change; exported for the tests). */
export function rethemeAll(): void {
  const t = theme();
  for (const f of listeners) f(t);
}

let observing = false;
function observeTheme(): void {
  if (observing) return;
  observing = true;
  let queued = false;
  const schedule = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; rethemeAll(); }); } };
  new MutationObserver(schedule).observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind', 'data-vscode-theme-id'] });
  new MutationObserver(schedule).observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
}

/** Calls `f` with the new theme on every theme change, from now on (starts the page's theme watcher). */
export function onTheme(f: (t: Theme) => void): void {
  listeners.add(f);
  observeTheme();
}

/** Stops calling `f` (a drawing that left the page). */
export function offTheme(f: (t: Theme) => void): void { listeners.delete(f); }
