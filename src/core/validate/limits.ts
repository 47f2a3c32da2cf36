/**
 * Length limits on the texts a job feeds the model (questions, instructions, system prompts, dataset answers), checked
 * before the model loads. Exact token counts need the tokenizer, so the up-front check is in characters: a text of more
 * than (context window − generation budget) × MAX_CHARS_PER_TOKEN characters cannot fit however it tokenizes (no
 * tokenizer we load averages more than 8 characters per token on text). `--max-prompt-chars` replaces the derived limit.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError, type PipelineErrorReason } from '../errors.js';

export const MAX_CHARS_PER_TOKEN = 8;

export interface TextLimit {
  maxChars: number;
  /** How the limit was set, for the message. */
  why: string;
}

/** The context window config.json states (max_position_embeddings, n_positions or n_ctx), or undefined when unreadable. */
export function contextWindowOf(modelDir: string): number | undefined {
  try {
    const c = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const text = (c.text_config ?? c) as Record<string, unknown>;
    for (const k of ['max_position_embeddings', 'n_positions', 'n_ctx']) {
      const v = text[k] ?? c[k];
      if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
    }
  } catch { /* the model load reports a bad config */ }
  return undefined;
}

/** The character limit for one prompt text: the override, else derived from the context window and generation budget. */
export function promptTextLimit(o: { contextTokens?: number; maxNewTokens?: number; maxChars?: number }): TextLimit | undefined {
  if (o.maxChars !== undefined) return { maxChars: o.maxChars, why: '--max-prompt-chars' };
  if (o.contextTokens === undefined) return undefined;
  const budget = o.maxNewTokens ?? 0;
  const room = o.contextTokens - budget;
  if (room <= 0) {
    return { maxChars: 0, why: `the model's context window (${o.contextTokens} tokens) leaves no room after max-new-tokens ${budget}; lower --max-new-tokens` };
  }
  return { maxChars: room * MAX_CHARS_PER_TOKEN, why: `the context window ${o.contextTokens} tokens − max-new-tokens ${budget} = ${room} tokens, at most ${MAX_CHARS_PER_TOKEN} characters each` };
}

/** Refuses the first text over the limit, naming the file and where in it (a JSON path or a line). */
export function checkTextLengths(texts: Iterable<{ where: string; text: string }>, limit: TextLimit | undefined, file: string, reason: PipelineErrorReason): void {
  if (!limit) return;
  for (const t of texts) {
    if (t.text.length > limit.maxChars) {
      throw new PipelineError(reason, `${file}: ${t.where} is ${t.text.length} characters, over the ${limit.maxChars} a prompt can have here (${limit.why}). ` +
        'Shorten it, or raise the limit with --max-prompt-chars if you know it fits.');
    }
  }
}
