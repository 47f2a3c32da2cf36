/**
 * The judge interface shared by the LLM judge (OpenAI-compatible, logprob-weighted 0–100 scores as upstream)
 * and the offline rubric judge of the toy organism. The judge never sees the system prompt or instruction:
 * only the raw question and the answer (upstream §3.1).
 */
export type JudgeMetric = 'trait' | 'coherence';

export interface JudgeRequest {
  metric: JudgeMetric;
  /** Trait name as in the trait file (e.g. "evil"); used by the rubric judge. */
  trait: string;
  /** The trait file's eval_prompt template with {question} and {answer}; used by the LLM judge for metric 'trait'. */
  evalPrompt?: string;
  /** 'chat' models get the instruct coherence prompt, 'base' models the continuation prompt. */
  modelKind: 'chat' | 'base';
  question: string;
  answer: string;
}

export interface JudgeUsage {
  requests: number; cached: number; promptTokens: number; completionTokens: number; costUsd: number;
  /** Retried faults by reason (judge-rate-limited, judge-server-error, judge-timeout, judge-connection,
   *  judge-malformed-response, judge-no-logprobs) and `gave-up` (requests that ran out of retries); absent when none. */
  faults?: Record<string, number>;
}

/** What stands behind one score, where the judge has it: the LLM judge's first-token distribution (top_logprobs as
 *  probabilities, token → p), from which the 0–100 score is the weighted mean. The rubric judge has none. */
export interface JudgeDetail { probs?: Record<string, number> }

export interface Judge {
  /** Stable identity used in cache keys and run manifests, e.g. "rubric:toy-persona@1" or "openai:gpt-4.1-mini". */
  readonly id: string;
  /** Scores in 0..100, or null where the judge gives none (e.g. numeric mass < 0.25). Same order as requests. */
  score(requests: JudgeRequest[], options?: { signal?: AbortSignal; onResult?: (index: number, score: number | null, detail?: JudgeDetail) => void }): Promise<(number | null)[]>;
  usage(): JudgeUsage;
}
