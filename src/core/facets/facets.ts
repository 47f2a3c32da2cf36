/**
 * Facet annotation (second paper §5.2; digest §10.6): the trait-expressing answers of stored runs — trait score above a
 * threshold (upstream: > 50), at most `maxAnswers` per (source run, condition) in generation order (upstream: 100 per
 * revision; a sweep's evaluation runs are one per revision) — are labelled by an annotator (./annotators.ts) with the facets of the trait's set (./sets.ts), and each
 * facet's share is reported with its Wilson 95 % interval per checkpoint revision and condition.
 *
 * Sources: evaluate, grid, controls, transfer and extract runs (their generations.jsonl and judgements.jsonl, read
 * without touching them), and sweep runs (every evaluation run their cells name). A facet run is resumable: each
 * annotation is appended to annotations.jsonl as it arrives, and an LLM annotator's replies are in the judge cache, so
 * a rerun — of this run or a fresh one — asks the annotator nothing it already answered.
 *
 * Outputs: facet_shares.csv (trait, facet_set, revision, condition, source_run, facet, annotated, count, share, ci_low, ci_high),
 * annotations.csv (one row per annotated answer) and results.json.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../errors.js';
import { withRun } from '../jobs/run.js';
import { writeCsv } from '../storage/csv.js';
import { JsonlLog, readJsonl } from '../storage/jsonl.js';
import type { GenerationRecord, JudgementRecord, RunManifest } from '../storage/run.js';
import type { Workspace } from '../storage/workspace.js';
import type { ProgressSink } from '../backend.js';
import type { FacetAnnotator } from './annotators.js';
import { facetSetFor, facetSetHash, wilson, type FacetSet } from './sets.js';

export interface FacetsJob {
  ws: Workspace;
  /** Run ids (or run folders) in the workspace. */
  sources: string[];
  /** The trait to annotate when the sources hold several (a sweep of several traits). */
  trait?: string;
  annotator: FacetAnnotator;
  /** Answers with a trait score strictly above this are annotated (upstream 50). */
  threshold?: number;
  /** At most this many answers per (revision, condition) (upstream 100). */
  maxAnswers?: number;
  runId?: string;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

export interface FacetShare { facet: string; count: number; share: number | null; ciLow: number | null; ciHigh: number | null }
export interface FacetGroup { revision: string; condition: string; /** The run the answers come from. */ run: string; candidates: number; annotated: number; unparsed: number; shares: FacetShare[] }
export interface FacetResults {
  trait: string; facetSet: string; facets: string[]; annotator: string; threshold: number; maxAnswers: number;
  sources: { runId: string; kind: string }[]; groups: FacetGroup[];
}

interface Answer { id: string; source: string; revision: string; condition: string; key: string; question: string; answer: string; trait: number }

function readManifest(dir: string, what: string): RunManifest {
  const f = path.join(dir, 'manifest.json');
  if (!existsSync(f)) throw new PipelineError('data-invalid', `${what}: no run at ${dir} (manifest.json missing); name a run id from ${path.dirname(dir)}`);
  return JSON.parse(readFileSync(f, 'utf8')) as RunManifest;
}

const conditionOf = (key: string): string => key.includes('|') ? key.slice(0, key.indexOf('|')) : /_(pos|neg)_\d+#\d+$/.exec(key)?.[1] ?? 'answers';

/** The trait-scored answers of one generate-and-judge run, in generation order. */
function runAnswers(dir: string, m: RunManifest): Answer[] {
  const scores = new Map<string, number | null>();
  for (const j of readJsonl<JudgementRecord>(path.join(dir, 'judgements.jsonl'))) if (j.metric === 'trait') scores.set(j.key, j.score);
  const revision = String((m.config.model as { revision?: string } | undefined)?.revision ?? (m.config.target as { revision?: string } | undefined)?.revision ?? 'main');
  const out: Answer[] = [];
  for (const g of readJsonl<GenerationRecord>(path.join(dir, 'generations.jsonl'))) {
    const t = scores.get(g.key);
    if (t === null || t === undefined) continue;
    out.push({ id: `${m.runId}|${g.key}`, source: m.runId, revision, condition: conditionOf(g.key), key: g.key, question: g.question, answer: g.answer, trait: t });
  }
  return out;
}

/** A sweep's evaluation runs, in the sweep's revision order (its cells' output_path names them). */
function sweepEvaluationRuns(ws: Workspace, dir: string, m: RunManifest): string[] {
  const unitsDir = path.join(dir, 'units');
  if (!existsSync(unitsDir)) throw new PipelineError('data-invalid', `sweep ${m.runId} has no completed cells (units/ is missing); run or resume the sweep first`);
  const order = (m.config.revisions as string[] | undefined) ?? [];
  const revs = readdirSync(unitsDir).sort((a, b) => (order.indexOf(a) + 1 || 1e9) - (order.indexOf(b) + 1 || 1e9) || a.localeCompare(b));
  const runs: string[] = [];
  for (const r of revs) for (const f of readdirSync(path.join(unitsDir, r)).filter((n) => n.endsWith('.json')).sort()) {
    const unit = JSON.parse(readFileSync(path.join(unitsDir, r, f), 'utf8')) as { rows?: { output_path?: unknown }[] };
    for (const row of unit.rows ?? []) {
      if (typeof row.output_path !== 'string' || !row.output_path) continue;
      const runDir = path.resolve(ws.root, path.dirname(row.output_path));
      if (!runs.includes(runDir)) runs.push(runDir);
    }
  }
  return runs;
}

const ANSWER_KINDS = ['evaluate', 'grid', 'controls', 'transfer', 'extract'];

/** Every source's trait-scored answers, and the one trait they share. */
export function facetSourceAnswers(ws: Workspace, sources: string[], only?: string): { trait: string; answers: Answer[]; sources: { runId: string; kind: string; configHash: string }[]; models: string[] } {
  if (sources.length === 0) throw new PipelineError('data-invalid', 'name at least one run to annotate (an evaluate, grid, controls, transfer, extract or sweep run id)');
  const answers: Answer[] = [];
  const used: { runId: string; kind: string; configHash: string }[] = [];
  const traits = new Set<string>(), models = new Set<string>(), others = new Set<string>();
  for (const s of sources) {
    const dir = existsSync(path.join(s, 'manifest.json')) ? path.resolve(s) : ws.runDir(s);
    const m = readManifest(dir, `facets: run "${s}"`);
    used.push({ runId: m.runId, kind: m.kind, configHash: m.configHash });
    const dirs = m.kind === 'sweep' ? sweepEvaluationRuns(ws, dir, m) : ANSWER_KINDS.includes(m.kind) ? [dir] : null;
    if (!dirs) throw new PipelineError('data-invalid', `run ${m.runId} is a ${m.kind} run, which has no judged answers; name an evaluate, grid, controls, transfer, extract or sweep run`);
    for (const d of dirs) {
      const dm = readManifest(d, `facets: run ${m.runId}`);
      if (only !== undefined && dm.config.trait !== only) { if (typeof dm.config.trait === 'string') others.add(dm.config.trait); continue; }
      if (typeof dm.config.trait === 'string') traits.add(dm.config.trait);
      const model = (dm.config.model as { name?: unknown } | undefined)?.name;
      if (typeof model === 'string') models.add(model);
      answers.push(...runAnswers(d, dm));
    }
  }
  if (only !== undefined && traits.size === 0) throw new PipelineError('data-invalid', `none of the runs is about "${only}"; they are about ${[...others].join(', ') || 'no trait'}`);
  if (traits.size !== 1) throw new PipelineError('data-invalid', `the runs hold answers about ${traits.size ? [...traits].join(', ') : 'no trait'}; annotate one trait at a time (--trait <name>)`);
  return { trait: [...traits][0], answers, sources: used, models: [...models] };
}

interface AnnotationRecord { id: string; facets: string[] | null }

export async function runFacets(j: FacetsJob): Promise<{ runDir: string; runId: string; results: FacetResults }> {
  const threshold = j.threshold ?? 50, maxAnswers = j.maxAnswers ?? 100;
  const src = facetSourceAnswers(j.ws, j.sources, j.trait);
  const set: FacetSet | undefined = facetSetFor(src.trait);
  if (!set) throw new PipelineError('data-invalid', `no facet set for trait "${src.trait}": facets are defined for evil (Baumeister's roots of evil) and sycophantic (ELEPHANT)`);
  const config = { stage: 'facets', trait: src.trait, facetSet: set.id, facetSetHash: facetSetHash(set), annotator: j.annotator.id, threshold, maxAnswers,
    sources: src.sources.map((s) => ({ runId: s.runId, configHash: s.configHash })) };
  const { run, value } = await withRun({ ws: j.ws, kind: 'facets', label: `${src.trait}-${src.sources[0].runId.slice(0, 40)}`, config, runId: j.runId, judge: j.annotator.judge, signal: j.signal }, async (run) => {
    // Per (source run, condition) — a sweep's evaluation runs are one per revision: candidates above the threshold, the first maxAnswers annotated.
    const groups = new Map<string, { revision: string; condition: string; run: string; candidates: Answer[] }>();
    for (const a of src.answers) {
      if (!(a.trait > threshold)) continue;
      const k = `${a.source}\u0000${a.condition}`;
      if (!groups.has(k)) groups.set(k, { revision: a.revision, condition: a.condition, run: a.source, candidates: [] });
      groups.get(k)!.candidates.push(a);
    }
    const chosen = [...groups.values()].flatMap((g) => g.candidates.slice(0, maxAnswers));
    const log = JsonlLog.open<AnnotationRecord>(run.path('annotations.jsonl'));
    const done = new Map<string, string[] | null>();
    for (const r of log.records) if (r.facets !== null || !done.has(r.id)) done.set(r.id, r.facets);
    const todo = chosen.filter((a) => !done.get(a.id));
    j.progress?.({ stage: 'annotate', done: chosen.length - todo.length, total: chosen.length });
    const batch = 64;
    for (let c = 0; c < todo.length; c += batch) {
      j.signal?.throwIfAborted();
      const part = todo.slice(c, c + batch);
      const labels = await Promise.all(part.map((a) => j.annotator.annotate({ question: a.question, answer: a.answer }, set, j.signal)));
      const recs = part.map((a, i) => ({ id: a.id, facets: labels[i] ? set.facets.map((f) => f.name).filter((f) => labels[i]!.has(f)) : null }));
      log.append(recs);
      for (const r of recs) done.set(r.id, r.facets);
      j.progress?.({ stage: 'annotate', done: chosen.length - todo.length + c + part.length, total: chosen.length });
    }

    const out: FacetGroup[] = [];
    const shareRows: Record<string, string | number | null>[] = [];
    for (const g of groups.values()) {
      const labelled = g.candidates.slice(0, maxAnswers).map((a) => done.get(a.id));
      const ok = labelled.filter((l): l is string[] => Array.isArray(l));
      const shares = set.facets.map((f): FacetShare => {
        const count = ok.filter((l) => l.includes(f.name)).length;
        const ci = wilson(count, ok.length);
        return { facet: f.name, count, share: ok.length ? count / ok.length : null, ciLow: ci?.low ?? null, ciHigh: ci?.high ?? null };
      });
      out.push({ revision: g.revision, condition: g.condition, run: g.run, candidates: g.candidates.length, annotated: ok.length, unparsed: labelled.length - ok.length, shares });
      for (const s of shares) {
        shareRows.push({ trait: src.trait, facet_set: set.id, revision: g.revision, condition: g.condition, source_run: g.run, facet: s.facet, annotated: ok.length, count: s.count,
          share: s.share, ci_low: s.ciLow, ci_high: s.ciHigh });
      }
    }
    writeCsv(run.path('facet_shares.csv'), ['trait', 'facet_set', 'revision', 'condition', 'source_run', 'facet', 'annotated', 'count', 'share', 'ci_low', 'ci_high'], shareRows);
    writeCsv(run.path('annotations.csv'), ['source_run', 'revision', 'condition', 'question_id', src.trait, 'question', 'answer', 'facets'],
      chosen.map((a) => ({ source_run: a.source, revision: a.revision, condition: a.condition, question_id: a.key, [src.trait]: a.trait, question: a.question, answer: a.answer,
        facets: done.get(a.id)?.join(';') ?? null })));
    const results: FacetResults = { trait: src.trait, facetSet: set.id, facets: set.facets.map((f) => f.name), annotator: j.annotator.id, threshold, maxAnswers,
      sources: src.sources.map((s) => ({ runId: s.runId, kind: s.kind })), groups: out };
    return { value: results, results: { ...results }, outputs: { shares: run.path('facet_shares.csv'), annotations: run.path('annotations.csv') } };
  });
  return { runDir: run.dir, runId: run.runId, results: value };
}

/** Every finished facet run's results in a workspace, oldest first (for reports). */
export function storedFacetResults(ws: Workspace): (FacetResults & { runId: string })[] {
  if (!existsSync(ws.runsDir)) return [];
  const out: (FacetResults & { runId: string; at: string })[] = [];
  for (const id of readdirSync(ws.runsDir)) {
    const dir = ws.runDir(id);
    try {
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as RunManifest;
      if (m.kind !== 'facets' || m.status !== 'done') continue;
      out.push({ ...(JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as FacetResults), runId: m.runId, at: m.updatedAt });
    } catch { /* not a finished run folder */ }
  }
  return out.sort((a, b) => a.at.localeCompare(b.at)).map(({ at: _at, ...r }) => r);
}
