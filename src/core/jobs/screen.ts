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
import { readFileSync } from 'node:fs';
import type { ChatMessage, PromptInput } from '../../engine/protocol.js';
import type { JobBase } from '../backend.js';
import { PipelineError } from '../errors.js';
import type { Judge } from '../judge/types.js';
import { evalPrompt } from '../prompts.js';
import { generateAndJudge, type RowSpec } from '../rows.js';
import { mean } from '../stats/descriptive.js';
import { readCsv, writeCsv } from '../storage/csv.js';
import type { RunStore } from '../storage/run.js';
import { assertVectorFits, norm, readVectorFile, vectorRow, type VectorKind } from '../vectors/file.js';
import { projectItems } from '../vectors/projection.js';
import { modelConfig, jobLabel, sha256File, withRun } from './run.js';

export interface ScreenSample { id: string; prompt: PromptInput; question: string; answer: string }

/** JobBase without a judge (screening judges nothing) or sample counts: `data` are the training samples. */
export interface ScreenJob extends Omit<JobBase, 'judge' | 'samples' | 'maxQuestions'> {
  judge?: Judge;
  data: ScreenSample[];
  dataSha256: string;
  vectorPath: string;
  kind?: VectorKind;
  layer: number;
}

export interface ScreenedSample { id: string; question: string; projTrain: number; projOwn: number; deltaP: number }
export interface ScreenResult { run: RunStore; datasetDeltaP: number | null; samples: ScreenedSample[] }

/** Reads a screening dataset (see the module comment); `kind` decides how a bare question becomes a prompt. */
export function readScreenData(file: string, kind: 'chat' | 'base'): { samples: ScreenSample[]; sha256: string } {
  const text = readFileSync(file, 'utf8');
  const sha256 = createHash('sha256').update(text).digest('hex');
  const fail = (where: string, what: string) => { throw new PipelineError('data-invalid', `${file}${where}: ${what}`); };
  const samples: ScreenSample[] = [];
  const fromObject = (o: Record<string, unknown>, where: string, i: number) => {
    const id = typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : String(i);
    if (Array.isArray(o.messages)) {
      const msgs = o.messages as ChatMessage[];
      const last = msgs[msgs.length - 1];
      if (!last || last.role !== 'assistant' || typeof last.content !== 'string') fail(where, 'the last message must be the assistant\'s answer');
      const before = msgs.slice(0, -1);
      const user = [...before].reverse().find((m) => m.role === 'user');
      if (!user) fail(where, 'no user message before the answer');
      samples.push({ id, prompt: kind === 'chat' ? { messages: before } : { text: before.map((m) => m.content).join('\n') }, question: user!.content, answer: last.content });
      return;
    }
    const q = typeof o.question === 'string' ? o.question : typeof o.prompt === 'string' ? o.prompt : undefined;
    if (q === undefined || typeof o.answer !== 'string') fail(where, 'expected {"messages": [...]} or {"question"|"prompt", "answer"}');
    samples.push({ id, prompt: evalPrompt(kind, q!), question: q!, answer: o.answer as string });
  };
  if (file.endsWith('.csv')) {
    readCsv(text).forEach((r, i) => fromObject(r, ` row ${i + 2}`, i));
  } else {
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      let o: unknown;
      try { o = JSON.parse(line); } catch (e) { fail(` line ${i + 1}`, `not JSON (${(e as Error).message})`); }
      if (!o || typeof o !== 'object') fail(` line ${i + 1}`, 'not a JSON object');
      fromObject(o as Record<string, unknown>, ` line ${i + 1}`, samples.length);
    });
  }
  if (samples.length === 0) fail('', 'no samples');
  const ids = new Set<string>();
  for (const s of samples) { if (ids.has(s.id)) fail('', `duplicate id "${s.id}"`); ids.add(s.id); }
  return { samples, sha256 };
}

export async function runScreening(j: ScreenJob): Promise<ScreenResult> {
  const vec = readVectorFile(j.vectorPath);
  assertVectorFits(vec, j.vectorPath, { name: j.model.name, ...j.model.info.config });
  const v = vectorRow(vec, j.kind ?? 'response_avg', j.layer);
  const vn = norm(v);
  if (vn === 0) throw new PipelineError('vector-invalid', `${j.vectorPath}: row ${j.layer} is zero; nothing to project onto`);
  const config = {
    stage: 'screen', model: modelConfig(j.model), trait: j.trait, dataSha256: j.dataSha256,
    vectorSha256: sha256File(j.vectorPath), kind: j.kind ?? 'response_avg', layer: j.layer,
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
