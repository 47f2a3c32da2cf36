/**
 * Batched generation with left padding and a KV cache, on a LoadedModel (src/engine/model/types.ts).
 *
 * Per batch: prefill runs in two phases — the prompt minus its last token ('prefix' phase: one forward, or row
 * groups × column chunks when the batch exceeds the prefill token budget, see prefillTokenBudget), then the last
 * prompt token ('last' phase) — so that upstream's 'response' steering (last prompt token only at prefill)
 * and 'prompt'/'all' specs can coexist in one row and one batch (see src/engine/steering/steer.ts).
 * Every row always takes this same path, whatever its neighbours, so its numerics do not depend on them.
 * Then one forward per decode step over the still-active rows; finished rows leave the KV cache
 * (KvCache.selectRows), so they cost nothing afterwards. Cancellation is checked before every forward.
 *
 * Batch invariance (tested bitwise in test/engine/worker/batch-invariance.integration.test.ts): a row's random stream is
 * a pure function of (row seed, step) (prng.ts) and the sampler sees only that row's logits; the logits
 * themselves are made independent of the neighbours by two measures, each of which alone was measured
 * insufficient on the toy model (40 rows, mixed lengths, steering, temperature 0.8):
 *   - every padded prompt block is a multiple of PAD_ALIGN (batch.ts), so a row's real tokens keep the same
 *     alignment along the key axis in the SIMD reductions of Softmax and probs·V whatever the batch;
 *   - a lone row runs beside a ghost copy (slotsOf), so no forward has M = B·S = 1, where onnxruntime's
 *     CPU Gemm takes a GEMV path whose last bits differ (float formats only: MatMulNBits, which computes every
 *     projection of the int8/int4 graphs, gives a row the same bits at M = 1, so those run a lone row alone).
 * Columns that are pads in every row of a prefill group are not forwarded but read as a zero past (session.ts
 * zeroPast), which leaves the real tokens' bits and every forward's key length as they were.
 * Hence, with intraOpNumThreads = 1, a row's tokens, logits and hidden states are bit-identical alone,
 * batched, reordered, in any batch size, and across runs. Not covered: with more intra-op threads, MLAS
 * threads a Gemm only once its size passes a threshold, and the per-thread split (probably via the K
 * blocking, which depends on the N slice) changes the last bits: on the toy model with 2 threads, a 16-token
 * row's hidden states are identical in batches of 1, 2 and 4 copies but differ at 8, so a sampled token can flip where a draw lands within ~1e-6 of a CDF boundary (none seen in
 * 60 rows × 32 tokens). Also not covered: key lengths above MLAS's K stride (≥ 128, depends on head_dim),
 * where the K-block boundaries fall at different places in a row's keys for different padded lengths.
 */
import type { ForwardInputs, KvCache, LoadedModel } from '../model/types.js';
import { collectDiscardedOutputs, joinKvRows, newKvCache, splitKvRows, zeroPast } from '../model/session.js';
import { buildStepSteer, SteerSpecError, type ResolvedSteer, type SteerPhase } from '../steering/steer.js';
import { block, leftPad, maskFor, PAD_ALIGN } from './batch.js';
import { nextToken, type RowSamplingState, type SamplerConfig } from './sampler.js';
import { RowText } from './text.js';
import { tokenLogprob } from './logprobs.js';
import type { Batching, SteeringApplied, TokenLogprob } from '../protocol.js';

export interface GenRowInput {
  promptIds: number[];
  steer?: ResolvedSteer[];
  seed: number;
}

export interface GenConfig {
  sampler: SamplerConfig;
  maxNewTokens: number;
  /** Tokens that end a row (model EOS ∪ request EOS). */
  eosTokenIds: readonly number[];
  stop: readonly string[];
  padTokenId: number;
  /** Hidden-state layers to record at every forwarded position (diagnostics). */
  hiddenLayers?: readonly number[];
  /** Record each generated token's raw log-probability and this many top alternatives (see protocol.ts). */
  logprobs?: number;
  /** Most tokens (rows × columns) one prefill forward processes; default `prefillTokenBudget` (tests and benchmarks force others). */
  prefillTokens?: number;
}

export interface GenHooks {
  /** Throws (e.g. a cancellation error) to abort between forwards. */
  checkCancelled(): void;
  /** Decodes generated ids to text (skipping special tokens); absent for tokenizer-less models. */
  decode?: (ids: number[]) => string;
  onToken?: (row: number, tokenId: number, delta: string) => void;
}

export interface GenRowOutput {
  tokenIds: number[];
  text: string;
  finishReason: 'eos' | 'stop' | 'length';
  /** layer → [T, H] float32 over forwarded positions (only with hiddenLayers). */
  hidden?: Map<number, Float32Array>;
  logprobs?: TokenLogprob[];
  /** Steered rows only: per steered layer, what the forwards actually added (see `SteeringApplied`). */
  steeringApplied?: SteeringApplied[];
}

interface RowState {
  input: GenRowInput;
  sampling: RowSamplingState;
  generated: number[];
  finish: GenRowOutput['finishReason'] | null;
  /** Live text, only when it is needed while generating (streaming or stop strings). */
  text: RowText | null;
  hidden?: Map<number, Float32Array[]>;
  logprobs?: TokenLogprob[];
  /** layer → the largest per-token norm added there and how many tokens received it (steered rows only). */
  applied?: Map<number, SteeringApplied>;
}

/**
 * Records, for each real row of a forward, what the `steer`/`steerMask` tensors actually fed add at each of
 * the row's steered layers: ‖steer[b, ℓ]‖ (float64 over the float32 values fed) times the tokens whose mask
 * is set. Read back from the tensors themselves, not from the specs, so a spec that was parsed but never
 * reached the graph shows up as 0 tokens. The norms and token counts are worked out once per tensor pair
 * (buildStepSteer hands the same pair to every decode step of a phase; the tensors are never written after
 * they are built), so a decode step costs a lookup per steered layer instead of a pass over H floats.
 */
export function recordApplied(states: readonly { applied?: Map<number, SteeringApplied> }[], active: readonly number[], steer: { steer: Float32Array; steerMask: Float32Array } | null, seqLen: number, L: number, H: number): void {
  if (!steer) return;
  let read = appliedReadings.get(steer);
  if (!read || read.seqLen !== seqLen || read.stride !== (L + 1) * H) {
    read = { seqLen, stride: (L + 1) * H, tokens: [], norms: new Map() };
    appliedReadings.set(steer, read);
  }
  for (const [b, i] of active.entries()) {
    const applied = states[i].applied;
    if (!applied) continue;
    let tokens = read.tokens[b];
    if (tokens === undefined) {
      tokens = 0;
      for (let s = 0; s < seqLen; s++) if (steer.steerMask[b * seqLen + s] !== 0) tokens++;
      read.tokens[b] = tokens;
    }
    if (tokens === 0) continue;
    for (const [layer, rec] of applied) {
      const base = (b * (L + 1) + layer) * H;
      let norm = read.norms.get(base);
      if (norm === undefined) {
        let ss = 0;
        for (let k = 0; k < H; k++) ss += steer.steer[base + k] * steer.steer[base + k];
        norm = Math.sqrt(ss);
        read.norms.set(base, norm);
      }
      if (!(norm > 0)) continue;
      rec.norm = Math.max(rec.norm, norm);
      rec.tokens += tokens;
    }
  }
}

/** Per steer-tensor pair: tokens with the mask set per slot, and ‖steer[b, ℓ]‖ per offset (b·(L+1)+ℓ)·H. */
const appliedReadings = new WeakMap<object, { seqLen: number; stride: number; tokens: number[]; norms: Map<number, number> }>();

/**
 * The rows a forward runs on: the active rows in order, plus a ghost copy of the row when only one is
 * active and `ghost` says the model needs one. onnxruntime's CPU Gemm takes a different (GEMV) code path when
 * M = B·S = 1, whose last bits differ from the M ≥ 2 path (measured on the parity fixtures: hidden states from
 * the first block on and every logit differed); with the ghost, a lone row's single-token forwards (the 'last'
 * prefill phase, decode steps) have M = 2 like any batch's. The ghost's outputs are ignored.
 */
const slotsOf = (active: number[], ghost: boolean): number[] => (ghost && active.length === 1 ? [active[0], active[0]] : active);

/**
 * Whether a lone row needs its ghost (slotsOf): yes where the graph's projections are float Gemms (f32, f16, bf16,
 * or a model this module did not load); no for int8/int4, whose projections are all MatMulNBits (weight-store.ts
 * `matrix`), which gives a row the same bits at M = 1 as beside other rows (tested bitwise in
 * test/engine/worker/lone-row.integration.test.ts on the toy and the parity families; the attention MatMuls are per
 * row and head, so their M never depends on the batch). A decode step then forwards one row instead of two:
 * quantized batch-1 decode is bound by MatMulNBits' integer work as much as by its weight reads.
 */
export const loneRowNeedsGhost = (model: LoadedModel): boolean => !['int8', 'int4'].includes(model.info.weightFormat ?? 'f32');

/**
 * Longest prefill forward, in padded columns (a multiple of PAD_ALIGN). Prompts up to this length prefill in
 * one forward, as before; longer ones (up to the model's positions, e.g. 4 k tokens) in chunks over the KV
 * cache, so the attention scores of one forward stay B·heads·1024·T floats.
 */
export const PREFILL_CHUNK = 1024;

/** Most rows one generation batch holds when the request does not say. */
export const MAX_GEN_BATCH = 64;

/** Fewest tokens a prefill forward is given, whatever the budget: GEMMs with M ≥ 64 keep their efficiency. */
export const PREFILL_MIN_TOKENS = 64;
/** Bounds of the activation bytes one prefill forward may use (`prefillTokenBudget`). */
export const PREFILL_BUDGET_MIN_BYTES = 16 * 2 ** 20;
export const PREFILL_BUDGET_MAX_BYTES = 256 * 2 ** 20;

/**
 * Bytes of float32 activations one prefill token costs in a forward whose queries see `keys` keys:
 * ≈ 16·H + 6·I + 10·heads·keys floats (fitted to measured peaks; capture.ts rowBytes uses the same estimate).
 */
export function prefillTokenBytes(model: LoadedModel, keys: number): number {
  const { hiddenSize: H, intermediateSize: I, numHeads } = model.config;
  return 4 * (16 * H + 6 * I + 10 * numHeads * keys);
}

/**
 * Tokens (rows × columns) one prefill forward may process for a padded prompt length `paddedLen`: what fits an
 * activation budget of 1/32 of the weights' resident bytes (so that onnxruntime's working memory for a prefill
 * stays a few per cent of the weights: issue 16's "≤ 1.15 × the weights"), clamped to 16–256 MiB, and never
 * fewer than PREFILL_MIN_TOKENS. A function of the model and the prompt only — never of free memory — so a row's
 * prefill is split the same way on every machine and every run. (The split does not change a row's bits with
 * one intra-op thread either: test/engine/worker/prefill-budget.integration.test.ts.)
 */
export function prefillTokenBudget(model: LoadedModel, paddedLen: number): number {
  const weights = model.info.residentWeightBytes ?? model.info.weightBytes ?? 0;
  const bytes = Math.min(PREFILL_BUDGET_MAX_BYTES, Math.max(PREFILL_BUDGET_MIN_BYTES, weights / 32));
  return Math.max(PREFILL_MIN_TOKENS, Math.floor(bytes / prefillTokenBytes(model, paddedLen)));
}

/**
 * How the 'prefix' prefill of `batch` rows over `prefixLen` columns is split for a budget of `tokens` tokens per
 * forward: groups of `rows` rows (balanced), each forwarded in column chunks of `cols` over its own KV cache.
 * `cols` is a multiple of PAD_ALIGN (so a chunk's key length keeps every row's SIMD lanes, see batch.ts) and at
 * most PREFILL_CHUNK.
 */
export function prefillSplit(tokens: number, batch: number, prefixLen: number): { rows: number; cols: number } {
  const cols = Math.min(PREFILL_CHUNK, Math.max(PAD_ALIGN, Math.floor(tokens / PAD_ALIGN) * PAD_ALIGN));
  const fit = Math.max(1, Math.min(batch, Math.floor(tokens / Math.max(1, Math.min(cols, prefixLen)))));
  const groups = Math.ceil(batch / fit);
  return { rows: Math.ceil(batch / groups), cols };
}

/**
 * Bytes one row costs while generating: its KV cache for prompt + new tokens (past and present live at once
 * during a step, in two stores; 64 positions of margin) and its logits row. The prefill's activations are bounded
 * per forward (`prefillTokenBudget`), not per row: `planGenBatch` counts them once.
 */
export function genRowBytes(model: LoadedModel, promptLen: number, maxNewTokens: number): number {
  const { numLayers: L, numKvHeads, headDim, vocabSize: V } = model.config;
  const P = Math.ceil(promptLen / PAD_ALIGN) * PAD_ALIGN;
  const kvPerToken = model.info.kvBytesPerToken ?? 2 * L * numKvHeads * headDim * 4;
  const kv = 2 * kvPerToken * (P + maxNewTokens + 64);
  return kv + 4 * V;
}

/** Rows per generation batch: as many as fit `budgetBytes` (less one prefill forward's activations), capped by the request's batch size (or MAX_GEN_BATCH) and the rows there are. */
export function planGenBatch(model: LoadedModel, rows: number, promptLen: number, maxNewTokens: number, requested: number | undefined, budgetBytes: number): Batching {
  const bytesPerRow = genRowBytes(model, promptLen, maxNewTokens);
  const P = Math.ceil(promptLen / PAD_ALIGN) * PAD_ALIGN;
  const prefill = prefillTokenBudget(model, P) * prefillTokenBytes(model, P);
  const fit = Math.max(1, Math.floor((budgetBytes - prefill) / bytesPerRow));
  const cap = requested ?? MAX_GEN_BATCH;
  const batchSize = Math.min(fit, cap, rows);
  const limitedBy = fit < Math.min(cap, rows) ? 'memory' : rows <= cap ? 'rows' : requested !== undefined ? 'requested' : 'default';
  return { batchSize, ...(requested !== undefined ? { requested } : {}), limitedBy, budgetBytes, bytesPerRow };
}

/** Generates for one batch of rows (callers split requests into batches). Results are in input order. */
export async function generateBatch(model: LoadedModel, rows: readonly GenRowInput[], cfg: GenConfig, hooks: GenHooks): Promise<GenRowOutput[]> {
  const { numLayers: L, hiddenSize: H } = model.config;
  const states: RowState[] = rows.map((r) => ({
    input: r,
    sampling: { seed: r.seed, seen: new Set(r.promptIds), generated: 0 },
    generated: [],
    finish: null,
    text: hooks.decode && (cfg.stop.length > 0 || hooks.onToken) ? new RowText(hooks.decode, cfg.stop) : null,
    hidden: cfg.hiddenLayers?.length ? new Map(cfg.hiddenLayers.map((l) => [l, [] as Float32Array[]])) : undefined,
    logprobs: cfg.logprobs !== undefined ? [] : undefined,
    applied: r.steer?.length ? new Map([...new Set(r.steer.map((x) => x.layer))].sort((a, b) => a - b).map((layer) => [layer, { layer, norm: 0, tokens: 0 }])) : undefined,
  }));
  for (const [i, r] of rows.entries()) {
    if (r.promptIds.length === 0) throw new Error(`row ${i}: the prompt has no tokens; generation needs at least one (e.g. BOS)`);
  }
  // Cache/forward order: the active rows, plus a ghost copy of the row when only one is left (slotsOf).
  let active = rows.map((_, i) => i); // row indices still generating
  const ghost = loneRowNeedsGhost(model);
  let slots = slotsOf(active, ghost);
  const padded = leftPad(slots.map((i) => rows[i].promptIds), cfg.padTokenId);
  const P = padded.seqLen;
  const pads: number[] = rows.map((_, i) => padded.pads[slots.indexOf(i)]); // per row
  const kv: { cache: KvCache | null } = { cache: null };
  const wantHidden = !!cfg.hiddenLayers?.length;

  /**
   * One forward over slots [g0, g1) (all of them unless a prefill is split into row groups), continuing kv.cache.
   * `real(b, s)`: whether the forward's row b, column s is one of its real tokens (not a pad).
   */
  const run = async (inputs: Omit<ForwardInputs, 'past' | 'hiddenStates'>, phase: SteerPhase, real: (b: number, s: number) => boolean, g0 = 0, g1 = slots.length) => {
    hooks.checkCancelled();
    // The real rows among these slots (a lone row's ghost, slot 1, is not one), indexed from g0 like the forward's rows.
    const group = active.slice(g0, Math.min(g1, active.length));
    const steer = buildStepSteer(slots.slice(g0, g1).map((i) => rows[i].steer), phase, inputs.seqLen, L, H, real);
    recordApplied(states, group, steer, inputs.seqLen, L, H);
    const out = await model.forward({ ...inputs, past: kv.cache, steer: steer?.steer ?? null, steerMask: steer?.steerMask ?? null, hiddenStates: wantHidden });
    kv.cache?.dispose();
    kv.cache = out.present;
    collectDiscardedOutputs();
    if (wantHidden && out.hiddenStates) {
      for (const [b, i] of group.entries()) {
        for (const [l, list] of states[i].hidden!) {
          const hs = out.hiddenStates[l];
          for (let s = 0; s < inputs.seqLen; s++) {
            if (real(b, s)) list.push(hs.slice((b * inputs.seqLen + s) * H, (b * inputs.seqLen + s + 1) * H));
          }
        }
      }
    }
    return out;
  };

  try {
    // ---- prefill, phase 'prefix': every prompt token but the last, at most `tokens` tokens per forward (the
    // activations of a forward scale with its tokens: issue 16's memory bound): groups of rows, each in column
    // chunks over its own KV cache, so that a long prompt's attention scores stay [rows, heads, cols, T]; the
    // groups' caches are then joined into the batch's. Stores are sized once for prompt + new tokens.
    const B0 = slots.length;
    const positions = P + cfg.maxNewTokens;
    // Leading columns that are pads in every row of a group are not forwarded: the group starts from a zero past
    // of that length (session.ts zeroPast: same bits for the real tokens). The chunk boundaries stay at multiples
    // of split.cols, so every forward's key length is what it would be with the pads computed. Rows are grouped by
    // the longest such prefix any group can have (all rows' shortest pad), so a short-prompt batch needs fewer groups.
    const minPad = Math.min(P - 1, ...padded.pads);
    const split = prefillSplit(cfg.prefillTokens ?? prefillTokenBudget(model, P), B0, P - 1 - minPad);
    const starts = Array.from({ length: Math.ceil(B0 / split.rows) }, (_, g) => g * split.rows);
    const sizes = starts.map((g0) => Math.min(B0, g0 + split.rows) - g0);
    const empties = sizes.length === 1 ? [newKvCache(model, B0, positions)] : splitKvRows(model, sizes, P - 1, positions) ?? sizes.map(() => null);
    const parts: KvCache[] = [];
    for (const [g, g0] of starts.entries()) {
      const g1 = g0 + sizes[g];
      const skip = Math.min(P - 1, ...padded.pads.slice(g0, g1));
      kv.cache = zeroPast(empties[g], skip) ?? empties[g];
      const start = kv.cache ? kv.cache.pastLength : 0;
      for (let from = 0; from < P - 1; from += split.cols) {
        const to = Math.min(P - 1, from + split.cols);
        if (to <= start) continue;
        const lo = Math.max(from, start);
        await run({
          batch: g1 - g0, seqLen: to - lo,
          inputIds: block(padded.inputIds, P, g0, g1, lo, to),
          positionIds: block(padded.positionIds, P, g0, g1, lo, to),
          attentionMask: block(padded.attentionMask, P, g0, g1, 0, to),
          logits: 'none',
        }, 'prefix', (b, s) => lo + s >= padded.pads[g0 + b], g0, g1);
      }
      parts.push(kv.cache!);
      kv.cache = null;
    }
    kv.cache = parts.length === 1 ? parts[0] : joinKvRows(parts, positions);
    // ---- prefill, phase 'last': the last prompt token, whose logits pick the first new token
    let out = await run({
      batch: B0, seqLen: 1,
      inputIds: block(padded.inputIds, P, 0, B0, P - 1, P),
      positionIds: block(padded.positionIds, P, 0, B0, P - 1, P),
      attentionMask: padded.attentionMask,
      logits: 'last',
    }, 'last', () => true);

    let total = P;
    for (;;) {
      const V = out.logits!.length / slots.length;
      for (const [b, i] of active.entries()) {
        const st = states[i];
        const logits = out.logits!.subarray(b * V, (b + 1) * V);
        const tok = nextToken(logits, cfg.sampler, st.sampling);
        st.logprobs?.push(tokenLogprob(logits, tok, cfg.logprobs!));
        st.generated.push(tok);
        st.sampling.generated++;
        st.sampling.seen.add(tok);
        if (cfg.eosTokenIds.includes(tok)) st.finish = 'eos';
        else if (st.text?.update(st.generated, st.sampling.generated >= cfg.sampler.minNewTokens)) st.finish = 'stop';
        if (!st.finish && st.generated.length >= cfg.maxNewTokens) st.finish = 'length';
        hooks.onToken?.(i, tok, st.text?.take(st.finish !== null) ?? '');
      }
      const still = active.filter((i) => !states[i].finish);
      if (still.length === 0) break;
      if (still.length !== active.length) {
        const nextSlots = slotsOf(still, ghost);
        const next: KvCache = kv.cache!.selectRows(nextSlots.map((i) => slots.indexOf(i)));
        kv.cache!.dispose();
        kv.cache = next;
        active = still;
        slots = nextSlots;
      }
      // ---- decode step: forward each active row's newest token
      total += 1;
      const B = slots.length;
      const ids = new BigInt64Array(B);
      const pos = new BigInt64Array(B);
      for (const [b, i] of slots.entries()) {
        const st = states[i];
        ids[b] = BigInt(st.generated[st.generated.length - 1]);
        pos[b] = BigInt(rows[i].promptIds.length + st.generated.length - 1);
      }
      out = await run({
        batch: B, seqLen: 1, inputIds: ids, positionIds: pos,
        attentionMask: maskFor(slots.map((i) => pads[i]), total),
        logits: 'last',
      }, 'decode', () => true);
    }
  } finally {
    kv.cache?.dispose();
  }
  // "Was the vector applied?": a non-zero steering delta that no forward added is a silent no-op — fail loudly.
  for (const [i, st] of states.entries()) {
    for (const spec of rows[i].steer ?? []) {
      const rec = st.applied!.get(spec.layer)!;
      if (rec.tokens === 0 && spec.delta.some((x) => x !== 0)) {
        throw new SteerSpecError('bad-spec', `row ${i}: the steering at layer ${spec.layer} (positions '${spec.positions}') added nothing to any token: the specs at this layer cancel out or select no position`);
      }
    }
  }

  return states.map((st) => {
    // Stopped rows keep their cut text; otherwise decode once. The EOS token's own text is never part of
    // the answer (vLLM semantics), even when a request names an ordinary token as EOS.
    const answerIds = st.finish === 'eos' ? st.generated.slice(0, -1) : st.generated;
    const text = st.finish === 'stop' ? st.text!.value : hooks.decode ? hooks.decode(answerIds) : '';
    const res: GenRowOutput = { tokenIds: st.generated, text, finishReason: st.finish ?? 'length' };
    if (st.logprobs) res.logprobs = st.logprobs;
    if (st.applied) res.steeringApplied = [...st.applied.values()];
    if (st.hidden) {
      res.hidden = new Map();
      for (const [l, list] of st.hidden) {
        const a = new Float32Array(list.length * H);
        list.forEach((v, t) => a.set(v, t * H));
        res.hidden.set(l, a);
      }
    }
    return res;
  });
}
