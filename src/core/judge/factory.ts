/** Builds the judge a run asks for: the toy organism's rubric judge, or an OpenAI-compatible LLM judge. */
import { PipelineError } from '../errors.js';
import type { Workspace } from '../storage/workspace.js';
import { LlmJudge, type LlmJudgeOptions } from './llm.js';
import type { Judge } from './types.js';

export type JudgeSpec =
  | { kind: 'rubric' }
  | { kind: 'openai'; baseURL: string; model: string; apiKey?: string; concurrency?: number; cache?: boolean; seed?: number | null };

export async function createJudge(spec: JudgeSpec, ws: Workspace, extra: Pick<LlmJudgeOptions, 'onRetry'> = {}): Promise<Judge> {
  if (spec.kind === 'openai') {
    return new LlmJudge({ baseURL: spec.baseURL, model: spec.model, apiKey: spec.apiKey, concurrency: spec.concurrency, seed: spec.seed,
      cacheDir: spec.cache === false ? undefined : ws.judgeCacheDir, ...extra });
  }
  return rubricJudge();
}

async function rubricJudge(): Promise<Judge> {
  // Resolved at run time: the rubric judge lives with the toy model (src/core/judge/rubric.ts).
  const specifier = './rubric.js';
  let mod: Record<string, unknown>;
  try { mod = await import(specifier); } catch (e) {
    throw new PipelineError('backend-missing', `the toy model's rubric judge (src/core/judge/rubric.ts) is not available: ${(e as Error).message}`);
  }
  for (const v of Object.values(mod)) {
    if (typeof v === 'function' && /rubric/i.test(v.name)) {
      try { const j = (v as () => Judge)(); if (j && typeof (j as Judge).score === 'function') return j; } catch { /* a class: fall through */ }
      try { const j = new (v as new () => Judge)(); if (j && typeof j.score === 'function') return j; } catch { /* not constructible */ }
    }
  }
  throw new PipelineError('backend-missing', 'src/core/judge/rubric.ts exports no rubric judge');
}
