/**
 * Judge Results data (no vscode: unit-testable): every answer of a run with its condition, scores and, for an
 * extraction, whether the paired filter kept its pair and why not. Rows are read from the run's own JSONL logs
 * (generations.jsonl, judgements.jsonl, through core's readJsonl); a sweep's answers live in its stage runs (the
 * extraction runs named in its vectors' metadata or status files, the evaluation runs named in its table).
 * The kept/dropped verdict is core's pairedFilter applied to each pair with the run's own threshold.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pairedFilter, type PairScores } from '../../core/extraction/filter.js';
import { readJsonl } from '../../core/storage/jsonl.js';
import type { GenerationRecord, JudgementRecord } from '../../core/storage/run.js';
import { Workspace } from '../../core/storage/workspace.js';
import { parsePythonInt } from '../../core/judge/llm.js';
import type { Condition, FilterSummary, JudgeRow, JudgeView, TokenDistribution } from '../../../webview/judge/protocol.js';
import { readManifest, safetensorsMetadata, workspaceOfRun } from './sweepData.js';

/** Run kinds whose folders hold judged answers (or, for a sweep, name the stage runs that do). */
export const JUDGED_KINDS = ['extract', 'evaluate', 'grid', 'controls', 'sweep', 'transfer'] as const;

const EXTRACT_KEY = /^(.+)_(\d+)_(pos|neg)_(\d+)#(\d+)$/;
const EVAL_KEY = /^([^|]+)\|(.+)_(\d+)#(\d+)$/;
const COND_ID = /^(steer|random|shuffled)(?:_s(\d+))?_L(\d+)_c([\dmp]+)$/;
const coefOf = (s: string) => Number(s.replace('m', '-').replace('p', '.'));

/** Condition, layer and coef of a row key (src/core/extraction/extract.ts and src/core/evaluation/evaluate.ts rowKey). */
export function parseRowKey(key: string): { condition: Condition; label: string; layer: number | null; coef: number | null; qid: number; pairId?: string } {
  const ex = EXTRACT_KEY.exec(key);
  if (ex) return { condition: ex[3] as 'pos' | 'neg', label: ex[3], layer: null, coef: null, qid: Number(ex[2]), pairId: `${ex[1]}_${ex[2]}_${ex[4]}#${ex[5]}` };
  const ev = EVAL_KEY.exec(key);
  if (ev) {
    const id = ev[1];
    const qid = Number(ev[3]);
    if (id === 'baseline' || id === 'prompt') return { condition: id, label: id, layer: null, coef: null, qid };
    const c = COND_ID.exec(id);
    if (c) {
      const layer = Number(c[3]), coef = coefOf(c[4]);
      return { condition: c[1] as Condition, label: `${c[1]}${c[2] !== undefined ? ` s${c[2]}` : ''} L${layer} c${coef}`, layer, coef, qid };
    }
    return { condition: 'other', label: id, layer: null, coef: null, qid };
  }
  return { condition: 'other', label: key.split('|')[0], layer: null, coef: null, qid: -1 };
}

/** A judgement's first-token probabilities as the panel shows them: most likely first, each with the number it reads as under the judge's own parse. */
export function distribution(probs: Record<string, number>): TokenDistribution {
  const tokens = Object.entries(probs).map(([token, p]) => {
    const v = parsePythonInt(token);
    return { token, p, value: v !== null && v >= 0 && v <= 100 ? v : null };
  }).sort((a, b) => b.p - a.p || a.token.localeCompare(b.token));
  return { tokens, mass: tokens.reduce((a, t) => a + (t.value !== null ? t.p : 0), 0) };
}

/** Why a pair failed the paired filter (the checks of core's pairedFilter, named for a reader). */
function whyDropped(p: PairScores, threshold: number): string {
  const out: string[] = [];
  if ([p.pos.trait, p.neg.trait, p.pos.coherence, p.neg.coherence].some((x) => x === null)) out.push('missing score');
  if (p.pos.trait !== null && !(p.pos.trait >= threshold)) out.push(`pos trait ${p.pos.trait.toFixed(0)} < ${threshold}`);
  if (p.neg.trait !== null && !(p.neg.trait < 100 - threshold)) out.push(`neg trait ${p.neg.trait.toFixed(0)} ≥ ${100 - threshold}`);
  if (p.pos.coherence !== null && !(p.pos.coherence >= 50)) out.push(`pos coherence ${p.pos.coherence.toFixed(0)} < 50`);
  if (p.neg.coherence !== null && !(p.neg.coherence >= 50)) out.push(`neg coherence ${p.neg.coherence.toFixed(0)} < 50`);
  if (p.pos.answer === '' || p.neg.answer === '') out.push('empty answer');
  return out.join('; ') || 'dropped';
}

/** The run folders a sweep's answers live in. */
function sweepSources(runDir: string): string[] {
  const ws = new Workspace(workspaceOfRun(runDir));
  const m = readManifest(runDir);
  const cfg = m.config as { model?: string; revisions?: string[]; traits?: { trait: string }[] };
  const out = new Set<string>();
  for (const rev of cfg.revisions ?? []) for (const t of cfg.traits ?? []) {
    if (!cfg.model) continue;
    const vec = ws.vectorPath(cfg.model, rev, t.trait), st = ws.vectorStatusPath(cfg.model, rev, t.trait);
    const run = existsSync(vec) ? safetensorsMetadata(vec)?.extraction_run
      : existsSync(st) ? (JSON.parse(readFileSync(st, 'utf8')) as { extraction_run?: string }).extraction_run : undefined;
    if (run && existsSync(ws.runDir(run))) out.add(ws.runDir(run));
  }
  const resultsFile = path.join(runDir, 'results.json');
  if (existsSync(resultsFile)) {
    const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as { rows?: Record<string, unknown>[]; transferRows?: Record<string, unknown>[] };
    for (const r of [...(results.rows ?? []), ...(results.transferRows ?? [])]) {
      const p = typeof r.output_path === 'string' ? r.output_path.split('/') : [];
      if (p[0] === 'runs' && p[1] && existsSync(ws.runDir(p[1]))) out.add(ws.runDir(p[1]));
    }
  }
  return [...out].sort();
}

export function loadJudgeView(runDir: string): JudgeView {
  const manifest = readManifest(runDir);
  if (!(JUDGED_KINDS as readonly string[]).includes(manifest.kind)) {
    throw new Error(`${path.basename(runDir)} is a ${manifest.kind} run: Judge Results opens ${JUDGED_KINDS.join(', ')} runs`);
  }
  const sources = manifest.kind === 'sweep' ? sweepSources(runDir) : [runDir];
  const rows: JudgeRow[] = [];
  const filters: FilterSummary[] = [];
  let jsonlLines = 0;
  sources.forEach((dir, src) => {
    const gens = readJsonl<GenerationRecord>(path.join(dir, 'generations.jsonl'));
    jsonlLines += gens.length;
    const scores = new Map<string, number | null>();
    // An LLM judge's first-token distribution behind each score (absent for the rubric judge and older runs).
    const probs = new Map<string, Record<string, number>>();
    for (const j of readJsonl<JudgementRecord>(path.join(dir, 'judgements.jsonl'))) {
      scores.set(`${j.metric}|${j.key}`, j.score);
      if (j.probs) probs.set(`${j.metric}|${j.key}`, j.probs);
    }
    const m = src === 0 && dir === runDir ? manifest : readManifest(dir);
    const threshold = Number((m.config as { threshold?: number }).threshold ?? 50);
    const start = rows.length;
    gens.forEach((g, i) => {
      const k = parseRowKey(g.key);
      rows.push({ src, line: i + 1, key: g.key, question: g.question, qid: k.qid, condition: k.condition, label: k.label, layer: k.layer, coef: k.coef,
        answer: g.answer, trait: scores.get(`trait|${g.key}`) ?? null, coherence: scores.get(`coherence|${g.key}`) ?? null, kept: null, why: null });
      const tp = probs.get(`trait|${g.key}`), cp = probs.get(`coherence|${g.key}`);
      if (tp || cp) rows[rows.length - 1].logprobs = { ...(tp ? { trait: distribution(tp) } : {}), ...(cp ? { coherence: distribution(cp) } : {}) };
    });
    if (m.kind === 'extract') {
      // Pair pos and neg rows by their pair id; each pair's verdict is core's pairedFilter on that pair alone.
      const pairs = new Map<string, { pos?: JudgeRow; neg?: JudgeRow }>();
      for (const r of rows.slice(start)) {
        const id = parseRowKey(r.key).pairId;
        if (!id) continue;
        const p = pairs.get(id) ?? {};
        p[r.condition as 'pos' | 'neg'] = r;
        pairs.set(id, p);
      }
      for (const [id, p] of pairs) {
        if (!p.pos || !p.neg) continue;
        const ps: PairScores = { id, pos: { trait: p.pos.trait, coherence: p.pos.coherence, answer: p.pos.answer }, neg: { trait: p.neg.trait, coherence: p.neg.coherence, answer: p.neg.answer } };
        const kept = pairedFilter([ps], threshold).kept.length === 1;
        const why = kept ? null : whyDropped(ps, threshold);
        for (const r of [p.pos, p.neg]) { r.kept = kept; r.why = why; }
      }
      const resultsFile = path.join(dir, 'results.json');
      const stats = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as { filter?: Record<string, number | null> }).filter : undefined;
      if (stats) filters.push({ run: path.basename(dir), stats });
    }
  });
  return { source: runDir, title: `Judge Results: ${path.basename(runDir)}`, kind: manifest.kind, sources, rows, filters, jsonlLines };
}
