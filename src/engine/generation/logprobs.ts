/**
 * Token log-probabilities for generation (OpenAI/vLLM `logprobs` + `top_logprobs`): log-softmax of one
 * step's raw logits, in float64, with the chosen token and the k most likely tokens. "Raw" means the
 * model's distribution after steering and before any sampler transform (penalty, temperature, top-k/p),
 * which is what an LLM judge reads (digest §3.2: probability-weighted score over the top 20).
 */
import type { TokenLogprob } from '../protocol.js';

export function tokenLogprob(logits: Float32Array, chosen: number, k: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const top: { tokenId: number; logprob: number }[] = [];
  if (k > 0) {
    // Partial selection of the k largest (k ≤ 20, V up to ~250k): one pass with a small sorted buffer.
    const ids: number[] = [];
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i];
      if (ids.length === k && x <= logits[ids[k - 1]]) continue;
      let j = ids.length < k ? ids.length : k - 1;
      if (ids.length < k) ids.push(i);
      while (j > 0 && logits[ids[j - 1]] < x) { ids[j] = ids[j - 1]; j--; }
      ids[j] = i;
    }
    for (const id of ids) top.push({ tokenId: id, logprob: logits[id] - logZ });
  }
  return { tokenId: chosen, logprob: logits[chosen] - logZ, top };
}
