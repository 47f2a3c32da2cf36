/**
 * Steering evaluation (digest §6): answers to the eval questions under several conditions, with the SAME
 * seeds for every condition (row seed = seed + i·n + j), generated in shared batches (rows are ordered by
 * question and sample first, condition second, so each GenerateRequest holds baseline and steered rows of
 * the same seeds), then judged (trait + coherence).
 *
 * Per condition: trait/coherence mean, median, std; Δτ = mean(condition) − mean(baseline) (and median,
 * and Δcoherence); per-question paired statistics against the baseline (exact sign flip, sign test).
 * Note (upstream bug §12.1 not reproduced): baseline answers are decoded from the padded prompt length by
 * the worker, so no prompt text leaks into baseline answers.
 */
import type { StageOptions } from '../backend.js';
import { modelKind } from '../backend.js';
import { evalPrompt, instructedPrompt } from '../prompts.js';
import { generateAndJudge, type RowSpec } from '../rows.js';
import { diff, summarize, type Summary } from '../stats/descriptive.js';
import { pairedStats, type PairedStats } from '../stats/paired.js';
import { writeCsv } from '../storage/csv.js';
import type { TraitData } from '../traits/schema.js';
import type { Condition } from './conditions.js';

export interface EvaluateOptions extends StageOptions {
  /** Eval set: questions + eval_prompt; `instruction` is needed only for the prompting baseline. */
  evalTrait: TraitData;
  /** Instruction pairs for the prompting baseline (usually the extract file's). */
  instruction?: TraitData['instruction'];
}

export interface ConditionResult {
  condition: Omit<Condition, 'steer'>;
  rows: number;
  trait: Summary;
  coherence: Summary;
  deltaTraitMean: number | null;
  deltaTraitMedian: number | null;
  deltaCoherenceMean: number | null;
  deltaCoherenceMedian: number | null;
  traitPaired: PairedStats | null;
  coherencePaired: PairedStats | null;
  firstAnswer: string;
  csv: string;
}

export function rowKey(cond: Condition, trait: string, i: number, j: number): string {
  return `${cond.id}|${trait}_${i}#${j}`;
}

/** Rows for the given conditions in shared-batch order. */
export function evaluationRows(conds: Condition[], o: Pick<EvaluateOptions, 'trait' | 'evalTrait' | 'instruction' | 'samples' | 'seed' | 'maxQuestions'>, kind: 'chat' | 'base'): RowSpec[] {
  const qs = o.evalTrait.questions.slice(0, o.maxQuestions ?? undefined);
  const rows: RowSpec[] = [];
  qs.forEach((question, i) => {
    for (let j = 0; j < o.samples; j++) {
      const seed = o.seed + i * o.samples + j;
      for (const c of conds) {
        let prompt = evalPrompt(kind, question);
        if (c.kind === 'prompt') {
          const instr = o.instruction ?? o.evalTrait.instruction;
          if (!instr?.length) throw new Error(`the prompting baseline needs instruction pairs; the eval trait file has none — pass the extract file's`);
          // Eliciting instruction k = i mod K, as a system prompt "You are a/an {trait} assistant. {pos}".
          prompt = instructedPrompt(kind, o.trait, instr[i % instr.length].pos, question);
        }
        rows.push({ key: rowKey(c, o.trait, i, j), prompt, question, seed, steer: c.steer });
      }
    }
  });
  return rows;
}

export async function evaluateConditions(conds: Condition[], o: EvaluateOptions): Promise<ConditionResult[]> {
  if (!conds.some((c) => c.kind === 'baseline')) throw new Error('evaluateConditions needs a baseline condition');
  const kind = modelKind(o.model);
  const rows = evaluationRows(conds, o, kind);
  await generateAndJudge(rows, {
    model: o.model, judge: o.judge, run: o.run, sampling: o.sampling, trait: o.trait, evalPrompt: o.evalTrait.eval_prompt,
    chunkSize: o.chunkSize, batchSize: o.batchSize, progress: o.progress, signal: o.signal,
  });
  return summarizeConditions(conds, o);
}

/** Per-question score lists for one condition and metric. */
function byQuestion(o: Pick<EvaluateOptions, 'run' | 'trait' | 'evalTrait' | 'samples' | 'maxQuestions'>, c: Condition, metric: 'trait' | 'coherence'): Map<string, (number | null)[]> {
  const m = new Map<string, (number | null)[]>();
  const nq = Math.min(o.evalTrait.questions.length, o.maxQuestions ?? Infinity);
  for (let i = 0; i < nq; i++) {
    const xs: (number | null)[] = [];
    for (let j = 0; j < o.samples; j++) xs.push(o.run.score(rowKey(c, o.trait, i, j), metric) ?? null);
    m.set(`${o.trait}_${i}`, xs);
  }
  return m;
}

export function summarizeConditions(conds: Condition[], o: Pick<EvaluateOptions, 'run' | 'trait' | 'evalTrait' | 'samples' | 'maxQuestions'>): ConditionResult[] {
  const base = conds.find((c) => c.kind === 'baseline')!;
  const baseTrait = byQuestion(o, base, 'trait'), baseCoh = byQuestion(o, base, 'coherence');
  const flat = (m: Map<string, (number | null)[]>) => [...m.values()].flat();
  const bT = summarize(flat(baseTrait)), bC = summarize(flat(baseCoh));
  return conds.map((c) => {
    const t = byQuestion(o, c, 'trait'), h = byQuestion(o, c, 'coherence');
    const sT = summarize(flat(t)), sC = summarize(flat(h));
    const isBase = c === base;
    const csv = `${c.kind === 'baseline' ? 'baseline' : c.id}_${o.trait}.csv`;
    exportConditionCsv(o, c, csv);
    const { steer: _steer, ...condition } = c;
    return {
      condition, rows: flat(t).length, trait: sT, coherence: sC,
      deltaTraitMean: diff(sT.mean, bT.mean), deltaTraitMedian: diff(sT.median, bT.median),
      deltaCoherenceMean: diff(sC.mean, bC.mean), deltaCoherenceMedian: diff(sC.median, bC.median),
      traitPaired: isBase ? null : pairedStats(baseTrait, t), coherencePaired: isBase ? null : pairedStats(baseCoh, h),
      firstAnswer: o.run.generations.get(rowKey(c, o.trait, 0, 0))?.answer ?? '', csv,
    };
  });
}

/** PV eval CSV: question, prompt, answer, question_id, <trait>, coherence (one row per sample). */
function exportConditionCsv(o: Pick<EvaluateOptions, 'run' | 'trait' | 'evalTrait' | 'samples' | 'maxQuestions'>, c: Condition, name: string): void {
  const rows = [];
  const nq = Math.min(o.evalTrait.questions.length, o.maxQuestions ?? Infinity);
  for (let i = 0; i < nq; i++) for (let j = 0; j < o.samples; j++) {
    const k = rowKey(c, o.trait, i, j);
    const g = o.run.generations.get(k);
    if (!g) continue;
    rows.push({ question: g.question, prompt: g.promptText, answer: g.answer, question_id: `${o.trait}_${i}`, [o.trait]: o.run.score(k, 'trait'), coherence: o.run.score(k, 'coherence') });
  }
  writeCsv(o.run.path(name), ['question', 'prompt', 'answer', 'question_id', o.trait, 'coherence'], rows);
}
