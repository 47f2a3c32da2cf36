/**
 * A screened dataset in the editor (no vscode): which line of a JSONL holds which screening sample, its ΔP from the
 * run's results.json, and the samples above or below a threshold as a new JSONL. Sample ids follow
 * src/core/jobs/screen.ts readScreenData exactly — a row's "id" (string or number) when it has one, else its index among
 * the file's samples — so a line finds its ΔP (test/core/promptFiles checks the two agree on a real dataset).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export interface ScreenedLine { line: number; id: string; deltaP: number | null }

/** Each non-blank line's 0-based line number and sample id (lines that are not JSON objects count as samples too, as they would fail screening). */
export function sampleLines(text: string): { line: number; id: string; raw: string }[] {
  const out: { line: number; id: string; raw: string }[] = [];
  text.split(/\r?\n/).forEach((raw, line) => {
    if (!raw.trim()) return;
    let id = String(out.length);
    try {
      const o = JSON.parse(raw) as { id?: unknown };
      if (o && typeof o === 'object' && (typeof o.id === 'string' || typeof o.id === 'number')) id = String(o.id);
    } catch { /* keeps the index id */ }
    out.push({ line, id, raw });
  });
  return out;
}

export interface ScreeningRun {
  runDir: string;
  runId: string;
  trait: string;
  layer: number;
  model: string;
  revision: string;
  datasetDeltaP: number | null;
  deltaP: Map<string, number | null>;
  updatedAt: string;
}

interface Manifest { kind?: string; status?: string; runId?: string; updatedAt?: string; config?: { trait?: string; layer?: number; dataSha256?: string; model?: { name?: string; revision?: string } } }

/**
 * The newest finished screening run of the workspace's runs/ whose dataset is this text (the run records the dataset's
 * sha256, so an edited file no longer matches a stale run); undefined when there is none.
 */
export function findScreeningRun(runsDir: string, datasetSha256: string): ScreeningRun | undefined {
  if (!existsSync(runsDir)) return undefined;
  let best: ScreeningRun | undefined;
  for (const name of readdirSync(runsDir)) {
    if (!name.startsWith('screen-')) continue;
    const dir = path.join(runsDir, name);
    let m: Manifest;
    try { m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest; } catch { continue; }
    if (m.kind !== 'screen' || m.status !== 'done' || m.config?.dataSha256 !== datasetSha256) continue;
    if (best && (m.updatedAt ?? '') <= best.updatedAt) continue;
    let results: { datasetDeltaP?: number | null; samples?: { id: string; deltaP: number | null }[] };
    try { results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as typeof results; } catch { continue; }
    best = {
      runDir: dir, runId: m.runId ?? name, trait: m.config.trait ?? '?', layer: m.config.layer ?? -1,
      model: m.config.model?.name ?? '?', revision: m.config.model?.revision ?? '?', datasetDeltaP: results.datasetDeltaP ?? null,
      deltaP: new Map((results.samples ?? []).map((s) => [String(s.id), s.deltaP])), updatedAt: m.updatedAt ?? '',
    };
  }
  return best;
}

/** Each sample line with its ΔP (null when the run has none for it). */
export function screenedLines(text: string, run: Pick<ScreeningRun, 'deltaP'>): ScreenedLine[] {
  return sampleLines(text).map((s) => ({ line: s.line, id: s.id, deltaP: run.deltaP.get(s.id) ?? null }));
}

/**
 * The samples with ΔP ≥ threshold ('above') or ΔP < threshold ('below'), so the two exports split the dataset; lines are
 * kept byte for byte, in file order. Samples without a finite ΔP go to neither and are counted in `skipped`.
 */
export function samplesByThreshold(text: string, run: Pick<ScreeningRun, 'deltaP'>, threshold: number, side: 'above' | 'below'): { jsonl: string; count: number; skipped: number } {
  const keep: string[] = [];
  let skipped = 0;
  for (const s of sampleLines(text)) {
    const d = run.deltaP.get(s.id);
    if (d === null || d === undefined || !Number.isFinite(d)) { skipped++; continue; }
    if (side === 'above' ? d >= threshold : d < threshold) keep.push(s.raw);
  }
  return { jsonl: keep.length ? `${keep.join('\n')}\n` : '', count: keep.length, skipped };
}

/** The sample lines sorted by ΔP, largest first (samples without one last, in file order), for a sorted view. */
export function sortedByDeltaP(text: string, run: Pick<ScreeningRun, 'deltaP'>): ScreenedLine[] {
  const key = (d: number | null) => (d === null || !Number.isFinite(d) ? -Infinity : d);
  return screenedLines(text, run).map((s, i) => ({ s, i })).sort((a, b) => key(b.s.deltaP) - key(a.s.deltaP) || a.i - b.i).map((x) => x.s);
}

/** A diverging colour scale position in [-1, 1] for ΔP: ΔP / the largest |ΔP| of the run (0 when all are 0). */
export function deltaPScale(lines: readonly ScreenedLine[]): (d: number) => number {
  const max = Math.max(0, ...lines.map((l) => (l.deltaP !== null && Number.isFinite(l.deltaP) ? Math.abs(l.deltaP) : 0)));
  return (d) => (max === 0 ? 0 : Math.max(-1, Math.min(1, d / max)));
}
