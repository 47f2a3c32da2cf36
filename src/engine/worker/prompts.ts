/**
 * Turns protocol prompts (+ optional responses) into token ids with one policy for generation, capture and
 * projection (see src/engine/tokenizer/tokenizer.ts for the special-token rules).
 */
import type { PromptInput } from '../protocol.js';
import type { TokenizedItem } from '../capture/capture.js';
import { badRequest } from './errors.js';
import type { ModelEntry } from './registry.js';

function checkIds(m: ModelEntry, ids: readonly number[], what: string): void {
  const V = m.model.config.vocabSize;
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw badRequest(`${what}: token id ${id} is outside the model's vocabulary 0..${V - 1} (does tokenizer.json belong to this checkpoint?)`);
    }
  }
}

/** `checkVocab` = false only for plain tokenization, where ids never reach the model. */
export function renderPrompt(m: ModelEntry, prompt: PromptInput, what = 'prompt', checkVocab = true): { text: string; ids: number[]; addSpecialTokens: boolean } {
  if (!prompt || typeof prompt !== 'object') throw badRequest(`${what}: expected { text }, { messages } or { ids }`);
  if ('ids' in prompt) {
    if (!Array.isArray(prompt.ids)) throw badRequest(`${what}: ids must be an array of token ids`);
    if (checkVocab) checkIds(m, prompt.ids, what);
    return { text: m.tokenizer ? m.tokenizer.decode(prompt.ids, false) : '', ids: [...prompt.ids], addSpecialTokens: false };
  }
  if (!m.tokenizer) throw badRequest(`${what}: model ${m.id} has no tokenizer.json, so text and chat prompts cannot be tokenized; pass { ids } instead`);
  if ('messages' in prompt && !m.tokenizer.hasChatTemplate) {
    throw badRequest(`${what}: model ${m.id} has no chat template (a base model); pass { text } instead of messages`);
  }
  const r = m.tokenizer.render(prompt);
  if (checkVocab) checkIds(m, r.ids, what);
  return r;
}

/**
 * Prompt + response, tokenized the upstream way (one sequence; prompt length from the prompt alone).
 * `{ ids }` responses are appended verbatim; a string response after an `{ ids }` prompt is tokenized on
 * its own without special tokens and appended.
 */
export function tokenizeItem(m: ModelEntry, prompt: PromptInput, response: string | { ids: number[] } | undefined, what: string): TokenizedItem & { promptText: string } {
  const p = renderPrompt(m, prompt, what);
  let ids: number[];
  if (response === undefined || response === '') ids = p.ids;
  else if (typeof response === 'object') {
    checkIds(m, response.ids, `${what} response`);
    ids = [...p.ids, ...response.ids];
  } else {
    if (!m.tokenizer) throw badRequest(`${what}: model ${m.id} has no tokenizer.json; pass the response as { ids }`);
    if ('ids' in prompt) ids = [...p.ids, ...m.tokenizer.encode(response, false)];
    else ids = m.tokenizer.encode(p.text + response, p.addSpecialTokens);
  }
  if (ids.length === 0) throw badRequest(`${what}: nothing to forward (empty prompt and response)`);
  return { ids, promptTokens: Math.min(p.ids.length, ids.length), promptText: p.text };
}
