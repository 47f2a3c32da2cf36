/**
 * Data screening (persona-vectors paper, digest §8): which training samples would shift the model toward the trait?
 * For a sample (x_i, y_i) the projection difference is
 *     ΔP_i = ( ā_ℓ(x_i, y_i) − ā_ℓ(x_i, y'_i) ) · v̂_ℓ
 * where ā_ℓ is the mean of hidden_states[ℓ] over the response tokens and y'_i is the model's OWN answer to x_i
 * (generated here, seeded, resumable). A large positive ΔP_i means the sample pulls the model toward the trait; the
 * dataset's ΔP is the mean. Each term is upstream's `cal_projection --projection_type proj`.
 *
 * Input: JSONL rows {"messages": [...]} (PV's training format: the last message is the assistant's answer, the ones
 * before it the prompt) or {"question", "answer"} / {"prompt", "answer"} objects, or a CSV with question/answer
 * columns (PV eval output).
 */
import { createHash } from 'node:crypto';
import type { ChatMessage, PromptInput } from '../../engine/protocol.js';
import type { JobBase } from '../backend.js';
import { PipelineError } from '../errors.js';
import type { Judge } from '../judge/types.js';
import { evalPrompt } from '../prompts.js';
import { generateAndJudge, type RowSpec } from '../rows.js';
import { mean } from '../stats/descriptive.js';
import { readCsv, writeCsv } from '../storage/csv.js';
import type { RunStore } from '../storage/run.js';
import { assertVectorFits, checkRowUsable, readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { projectItems } from '../vectors/projection.js';
import { checkTextLengths, type TextLimit } from '../validate/limits.js';
import { MAX_FILE_BYTES, readTextInput } from '../validate/text.js';
import { modelConfig, jobLabel, sha256File, withRun } from './run.js';

export interface ScreenSample { id: string; prompt: PromptInput; question: string; answer: string }

/** JobBase without a judge (screening judges nothing) or sample counts: `data` are the training samples. */
export interface ScreenJob extends Omit<JobBase, 'judge' | 'samples' | 'maxQuestions'> {
  judge?: Judge;
  data: ScreenSample[];
  dataSha256: string;
  vectorPath: string;
  kind?: VectorKind;
  /** A tensor name other than `<kind>_diff` (`--vector-key`). */
  vectorKey?: string;
  layer: number;
}

export interface ScreenedSample { id: string; question: string; projTrain: number; projOwn: number; deltaP: number }
export interface ScreenResult { run: RunStore; datasetDeltaP: number | null; samples: ScreenedSample[] }

/** At most this many per-line problems are listed in one refusal (then "… and N more"). */
export const MAX_REPORTED_ERRORS = 20;

const ROLES = ['system', 'user', 'assistant'] as const;

/**
 * Reads a screening dataset (see the module comment); `kind` decides how a bare question becomes a prompt. Checked up
 * front, before any model work (src/core/validate): size, strict UTF-8 (a BOM is stripped), every line or row — JSON,
 * message roles, content types (a null content is named as such), the answer last — with every problem listed by line
 * (up to MAX_REPORTED_ERRORS), ids unique, and given a limit, prompt and answer lengths.
 */
export function readScreenData(file: string, kind: 'chat' | 'base', opts: { limit?: TextLimit } = {}): { samples: ScreenSample[]; sha256: string } {
  const input = readTextInput(file, 'dataset', 'data-invalid', MAX_FILE_BYTES.dataset);
  const text = input.text;
  const sha256 = createHash('sha256').update(text).digest('hex');
  const errors: string[] = [];
  let total = 0;
  const problem = (where: string, what: string) => { total++; if (errors.length < MAX_REPORTED_ERRORS) errors.push(`${where}: ${what}`); };
  const samples: ScreenSample[] = [];
  const lengths: { where: string; text: string }[] = [];
  const fromObject = (o: Record<string, unknown>, where: string, i: number) => {
    const id = typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : String(i);
    if (o.messages !== undefined) {
      if (!Array.isArray(o.messages) || o.messages.length === 0) return problem(where, '"messages" must be a non-empty array of {"role", "content"}');
      const msgs: ChatMessage[] = [];
      let ok = true;
      o.messages.forEach((m: unknown, k: number) => {
        const at = `messages[${k}]`;
        if (typeof m !== 'object' || m === null || Array.isArray(m)) { ok = false; return problem(where, `${at} must be an object {"role", "content"}`); }
        const r = m as Record<string, unknown>;
        if (!ROLES.includes(r.role as typeof ROLES[number])) { ok = false; return problem(where, `${at}.role is ${JSON.stringify(r.role ?? null)}; use system, user or assistant`); }
        if (r.content === null || r.content === undefined) { ok = false; return problem(where, `${at}.content is ${r.content === null ? 'null' : 'missing'}; every message needs its text as a string`); }
        if (typeof r.content !== 'string') { ok = false; return problem(where, `${at}.content is ${Array.isArray(r.content) ? 'an array' : `a ${typeof r.content}`}; it must be a string`); }
        msgs.push({ role: r.role as ChatMessage['role'], content: r.content });
      });
      if (!ok) return;
      const last = msgs[msgs.length - 1];
      if (last.role !== 'assistant') return problem(where, `the last message must be the assistant's answer (it is a ${last.role} message)`);
      const before = msgs.slice(0, -1);
      const user = [...before].reverse().find((m) => m.role === 'user');
      if (!user) return problem(where, 'no user message before the answer');
      const prompt: PromptInput = kind === 'chat' ? { messages: before } : { text: before.map((m) => m.content).join('\n') };
      lengths.push({ where: `${where} (prompt)`, text: before.map((m) => m.content).join('\n') }, { where: `${where} (answer)`, text: last.content });
      samples.push({ id, prompt, question: user.content, answer: last.content });
      return;
    }
    const q = typeof o.question === 'string' ? o.question : typeof o.prompt === 'string' ? o.prompt : undefined;
    if (q === undefined || typeof o.answer !== 'string') {
      const nul = ['question', 'prompt', 'answer'].find((k) => o[k] === null);
      return problem(where, nul ? `"${nul}" is null; it must be a string` : 'expected {"messages": [...]} or {"question"|"prompt", "answer"} with string values');
    }
    lengths.push({ where: `${where} (question)`, text: q }, { where: `${where} (answer)`, text: o.answer as string });
    samples.push({ id, prompt: evalPrompt(kind, q), question: q, answer: o.answer as string });
  };
  if (file.endsWith('.csv')) {
    readCsv(text).forEach((r, i) => fromObject(r, `row ${i + 2}`, i));
  } else {
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      let o: unknown;
      try { o = JSON.parse(line); } catch (e) { return problem(`line ${i + 1}`, `not JSON (${(e as Error).message})`); }
      if (!o || typeof o !== 'object' || Array.isArray(o)) return problem(`line ${i + 1}`, 'not a JSON object');
      fromObject(o as Record<string, unknown>, `line ${i + 1}`, samples.length);
    });
  }
  const ids = new Map<string, number>();
  samples.forEach((smp, k) => { if (ids.has(smp.id)) problem(`sample ${k + 1}`, `duplicate id "${smp.id}" (also sample ${ids.get(smp.id)! + 1})`); else ids.set(smp.id, k); });
  if (total > 0) {
    throw new PipelineError('data-invalid', `${file}: ${total} problem${total === 1 ? '' : 's'} in the dataset; nothing was run. Fix ${total === 1 ? 'it' : 'them'} and rerun:\n` +
      errors.map((e) => `  ${e}`).join('\n') + (total > errors.length ? `\n  … and ${total - errors.length} more` : ''));
  }
  if (samples.length === 0) throw new PipelineError('data-invalid', `${file}: the dataset holds no samples (only blank lines); expected JSONL rows {"messages": [...]} or {"question", "answer"}, or a CSV with question/answer columns`);
  checkTextLengths(lengths, opts.limit, file, 'data-invalid');
  return { samples, sha256 };
}

export async function runScreening(j: ScreenJob): Promise<ScreenResult> {
  const vec = readVectorFile(j.vectorPath, { key: j.vectorKey, kind: j.kind });
  assertVectorFits(vec, j.vectorPath, { name: j.model.name, ...j.model.info.config });
  const v = vectorRow(vec, j.kind ?? 'response_avg', j.layer);
  checkRowUsable(v, 'projection', j.vectorPath, j.layer);
  const config = {
    stage: 'screen', model: modelConfig(j.model), trait: j.trait, dataSha256: j.dataSha256,
    vectorSha256: sha256File(j.vectorPath), kind: j.kind ?? 'response_avg', layer: j.layer, ...(j.vectorKey ? { vectorKey: j.vectorKey } : {}),
    sampler: j.sampling, samplerPreset: j.samplerPreset, seed: j.seed,
  };
  const { run, value } = await withRun({ ws: j.ws, kind: 'screen', label: jobLabel(j), config, runId: j.runId, judge: j.judge, signal: j.signal }, async (run) => {
    // y'_i: the model's own answers, appended as they come (a rerun regenerates nothing).
    const rows: RowSpec[] = j.data.map((s, i) => ({ key: `own|${s.id}`, prompt: s.prompt, question: s.question, seed: j.seed + i }));
    await generateAndJudge(rows, { model: j.model, run, sampling: j.sampling, trait: j.trait, evalPrompt: '', metrics: [],
      chunkSize: j.chunkSize, batchSize: j.batchSize, progress: j.progress, signal: j.signal });
    // ā_ℓ over response tokens for (x, y) and (x, y'), projected on v̂.
    const items = j.data.flatMap((s) => [{ prompt: s.prompt, response: s.answer }, { prompt: s.prompt, response: run.generations.get(`own|${s.id}`)!.answer }]);
    const proj = await projectItems(j.model, items, 'response_avg', j.layer, v, j);
    const out: ScreenedSample[] = j.data.map((s, i) => ({ id: s.id, question: s.question, projTrain: proj[2 * i], projOwn: proj[2 * i + 1], deltaP: proj[2 * i] - proj[2 * i + 1] }));
    const finite = out.map((s) => s.deltaP).filter((d) => Number.isFinite(d));
    const datasetDeltaP = mean(finite);
    const col = `${j.model.name}_${j.trait}_proj_layer${j.layer}`;
    writeCsv(run.path(`screening_${j.trait}.csv`), ['id', 'question', 'answer', 'own_answer', col, `${col}_own`, 'projection_difference'],
      [...out].sort((a, b) => (Number.isFinite(b.deltaP) ? b.deltaP : -Infinity) - (Number.isFinite(a.deltaP) ? a.deltaP : -Infinity)).map((s) => {
        const sample = j.data.find((x) => x.id === s.id)!;
        return { id: s.id, question: s.question, answer: sample.answer, own_answer: run.generations.get(`own|${s.id}`)!.answer,
          [col]: finiteOrNull(s.projTrain), [`${col}_own`]: finiteOrNull(s.projOwn), projection_difference: finiteOrNull(s.deltaP) };
      }));
    return { value: { datasetDeltaP, samples: out }, outputs: { screening: run.path(`screening_${j.trait}.csv`) },
      results: { datasetDeltaP, samples: out.map((s) => ({ ...s, projTrain: finiteOrNull(s.projTrain), projOwn: finiteOrNull(s.projOwn), deltaP: finiteOrNull(s.deltaP) })) } };
  });
  return { run, ...value };
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);
