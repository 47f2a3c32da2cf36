/**
 * Sampler presets. Every parameter is set explicitly (upstream §12.2: its baseline and steered runs used
 * different engines with different hidden defaults); the preset used is recorded in each run manifest and
 * vector file.
 *   pv   persona_vectors: T 1.0, top_p 1, 1000 new tokens, no repetition penalty   (chat models)
 *   pp   pretraining_persona: T 0.5, top_p 1, 64 new tokens, repetition penalty 1.1 (base models)
 *   toy  the embedded toy organism: T 0.8, top_p 1, 80 new tokens (its training context is 128)
 * Upstream switches to greedy decoding when n = 1; we keep the preset's temperature regardless, so n only
 * changes how many samples are drawn.
 */
import type { SamplingParams } from '../engine/protocol.js';

export type SamplerPreset = 'pv' | 'pp' | 'toy';

export const SAMPLER_PRESETS: Record<SamplerPreset, Required<Pick<SamplingParams, 'temperature' | 'topP' | 'topK' | 'maxNewTokens' | 'minNewTokens' | 'repetitionPenalty'>>> = {
  pv: { temperature: 1.0, topP: 1, topK: 0, maxNewTokens: 1000, minNewTokens: 1, repetitionPenalty: 1.0 },
  pp: { temperature: 0.5, topP: 1, topK: 0, maxNewTokens: 64, minNewTokens: 1, repetitionPenalty: 1.1 },
  toy: { temperature: 0.8, topP: 1, topK: 0, maxNewTokens: 80, minNewTokens: 1, repetitionPenalty: 1.0 },
};
