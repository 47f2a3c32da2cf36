/** Builds the judge a run asks for: the toy organism's rubric judge, or an OpenAI-compatible LLM judge. */
import type { Workspace } from '../storage/workspace.js';
import { LlmJudge, type LlmJudgeOptions } from './llm.js';
import { RubricJudge } from './rubric.js';
import type { Judge } from './types.js';

export type JudgeSpec =
  | { kind: 'rubric' }
  | { kind: 'openai'; baseURL: string; model: string; apiKey?: string; concurrency?: number; requestsPerMinute?: number; maxRetries?: number; timeoutMs?: number; cache?: boolean; seed?: number | null;
      extraBody?: Record<string, unknown>; pricing?: { inputPerMTok: number; outputPerMTok: number } };

export async function createJudge(spec: JudgeSpec, ws: Workspace, extra: Pick<LlmJudgeOptions, 'onRetry'> = {}): Promise<Judge> {
  if (spec.kind === 'openai') {
    // DeepSeek (PP's second judge): no seed parameter, and its tokens are stripped and merged before scoring (digest §3.2).
    const deepseek = spec.model.toLowerCase().startsWith('deepseek');
    return new LlmJudge({ baseURL: spec.baseURL, model: spec.model, apiKey: spec.apiKey, concurrency: spec.concurrency, requestsPerMinute: spec.requestsPerMinute,
      maxRetries: spec.maxRetries, timeoutMs: spec.timeoutMs,
      seed: spec.seed !== undefined ? spec.seed : deepseek ? null : 0, mergeStrippedTokens: deepseek, extraBody: spec.extraBody, pricing: spec.pricing,
      cacheDir: spec.cache === false ? undefined : ws.judgeCacheDir, ...extra });
  }
  // The toy organism's offline judge; reads models/toy-persona/world/lexicon.json.
  return new RubricJudge();
}
