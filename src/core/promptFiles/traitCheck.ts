/**
 * Trait-file problems with the span each one names, for an editor's diagnostics (no vscode): JSON syntax errors first;
 * on valid JSON, core's trait validator (src/core/traits/schema.ts traitIssues, the same check `persona-lab extract`
 * and `traits validate` run) with each issue's JSON path located in the text (./jsonPath.ts).
 */
import { traitIssues } from '../traits/schema.js';
import { jsonSyntaxErrors, locateJsonPath, type TextSpan } from './jsonPath.js';

export interface TraitProblem extends TextSpan { path: string; message: string }

const TRAIT_KEYS = ['instruction', 'questions', 'eval_prompt'];

/** Whether a JSON text looks like a trait file (an object with instruction, questions or eval_prompt), so any *.json can be checked. */
export function looksLikeTrait(text: string): boolean {
  if (!/"(instruction|questions|eval_prompt)"\s*:/.test(text)) return false;
  try {
    const o = JSON.parse(text) as unknown;
    return typeof o === 'object' && o !== null && !Array.isArray(o) && TRAIT_KEYS.some((k) => k in o);
  } catch {
    return true; // being edited: the key is there, so report its syntax errors
  }
}

/** Every problem of a trait file's text; `requireInstruction` for extraction files (traits/extract/). */
export function traitProblems(text: string, opts: { requireInstruction?: boolean } = {}): TraitProblem[] {
  const syntax = jsonSyntaxErrors(text);
  if (syntax.length) return syntax.map((e) => ({ ...e, path: '$' }));
  const value = JSON.parse(text) as unknown;
  return traitIssues(value, opts).map((i) => ({ ...(locateJsonPath(text, i.path) ?? { offset: 0, length: 1 }), path: i.path, message: i.message }));
}
