/**
 * Trait files in the upstream schema (persona_vectors / pretraining_persona, digest §1.1):
 *
 *   { "instruction": [ {"pos": str | str[], "neg": str | str[]}, ... ],   // optional in PP eval files
 *     "questions":   [ str, ... ],
 *     "eval_prompt": "<judge template with exactly one {question} and one {answer}>" }
 *
 * `eval_prompt` is rendered like Python `str.format(question=…, answer=…)`, so any other brace would
 * break upstream's rendering; we reject it here with the JSON path of the offending field.
 * A list-valued pos/neg is a few-shot list (PP base-model discourse types), joined with "\n" at prompt time.
 */
import { PipelineError } from '../errors.js';

export type InstructionText = string | string[];
export interface InstructionPair { pos: InstructionText; neg: InstructionText }
export interface TraitData {
  instruction?: InstructionPair[];
  questions: string[];
  eval_prompt: string;
}

export interface TraitIssue { path: string; message: string }

/** Checks one parsed JSON value against the schema; returns every problem found (empty = valid). */
export function traitIssues(value: unknown, options: { requireInstruction?: boolean } = {}): TraitIssue[] {
  const issues: TraitIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    add('$', 'must be a JSON object with "questions" and "eval_prompt" (and "instruction" for extraction)');
    return issues;
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['instruction', 'questions', 'eval_prompt'].includes(k)) add(`$.${k}`, 'unknown key (expected instruction, questions, eval_prompt)');
  }
  if (o.instruction === undefined) {
    if (options.requireInstruction) add('$.instruction', 'missing: extraction needs at least one {"pos", "neg"} instruction pair');
  } else if (!Array.isArray(o.instruction) || o.instruction.length === 0) {
    add('$.instruction', 'must be a non-empty array of {"pos": ..., "neg": ...} pairs');
  } else {
    o.instruction.forEach((pair, i) => {
      const p = `$.instruction[${i}]`;
      if (typeof pair !== 'object' || pair === null || Array.isArray(pair)) { add(p, 'must be an object {"pos": ..., "neg": ...}'); return; }
      const rec = pair as Record<string, unknown>;
      for (const side of ['pos', 'neg'] as const) checkInstructionText(rec[side], `${p}.${side}`, add);
      for (const k of Object.keys(rec)) if (k !== 'pos' && k !== 'neg') add(`${p}.${k}`, 'unknown key (expected pos, neg)');
    });
  }
  if (!Array.isArray(o.questions) || o.questions.length === 0) {
    add('$.questions', 'must be a non-empty array of strings');
  } else {
    o.questions.forEach((q, i) => {
      if (typeof q !== 'string' || q.trim() === '') add(`$.questions[${i}]`, 'must be a non-empty string');
    });
  }
  if (typeof o.eval_prompt !== 'string') {
    add('$.eval_prompt', 'must be a string containing {question} and {answer}');
  } else {
    for (const problem of evalPromptProblems(o.eval_prompt)) add('$.eval_prompt', problem);
  }
  return issues;
}

function checkInstructionText(v: unknown, path: string, add: (p: string, m: string) => void): void {
  if (typeof v === 'string') { if (v.trim() === '') add(path, 'must not be empty'); return; }
  if (Array.isArray(v)) {
    if (v.length === 0) add(path, 'a few-shot list must not be empty');
    v.forEach((s, j) => { if (typeof s !== 'string' || s.trim() === '') add(`${path}[${j}]`, 'must be a non-empty string'); });
    return;
  }
  add(path, 'must be a string or a list of strings (few-shot examples)');
}

/** Problems with an eval_prompt template: exactly one {question}, one {answer}, no other braces. */
export function evalPromptProblems(t: string): string[] {
  const out: string[] = [];
  const count = (s: string) => t.split(s).length - 1;
  if (count('{question}') !== 1) out.push(`must contain {question} exactly once (found ${count('{question}')})`);
  if (count('{answer}') !== 1) out.push(`must contain {answer} exactly once (found ${count('{answer}')})`);
  const rest = t.replace('{question}', '').replace('{answer}', '');
  if (/[{}]/.test(rest)) out.push('contains a brace other than {question}/{answer}; upstream renders it with str.format, which would fail');
  return out;
}

/** Validates and narrows; throws PipelineError('trait-invalid') naming the source and every bad field. */
export function parseTrait(value: unknown, source: string, options: { requireInstruction?: boolean } = {}): TraitData {
  const issues = traitIssues(value, options);
  if (issues.length > 0) {
    throw new PipelineError('trait-invalid',
      `${source}: invalid trait file:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, issues);
  }
  return value as TraitData;
}

/** Upstream joins few-shot lists with "\n" (digest §1.1). */
export function instructionText(t: InstructionText): string {
  return Array.isArray(t) ? t.join('\n') : t;
}

/** Renders eval_prompt like Python str.format(question=, answer=) (single pass, so an answer containing "{question}" stays literal). */
export function renderEvalPrompt(template: string, question: string, answer: string): string {
  return template.replace(/\{question\}|\{answer\}/g, (m) => (m === '{question}' ? question : answer));
}
