/**
 * What the bench runs, defined once for both sides (ours and the peer get the same token ids, the same
 * steering, the same batch sizes): prompts, capture items, the steering vector and the plan.
 */
export const WORKLOADS = ['gen', 'steered-gen', 'capture', 'capture-batched', 'load', 'scaling'] as const;
export type Workload = (typeof WORKLOADS)[number];

/**
 * Plan presets (`--plan`): `full` is the plan (hour-scale on 2 cores at 1 B); `quick` fits ~25 min on a quiet
 * 2-core machine at 1 B (sizes and their estimate: src/engine/DESIGN.md, "Benchmark"); `smoke` is a one-minute check
 * on the toy (`--quick` is its old name). Explicit flags (--batches, --new-tokens, …) override a preset's values.
 */
export const PLANS = ['full', 'quick', 'smoke'] as const;
export type PlanName = (typeof PLANS)[number];

export interface Plan {
  name: PlanName;
  workloads: Workload[];
  batches: number[];
  /** New tokens per batch size where a plan sets them apart (else `newTokens`). */
  newTokensByBatch?: Record<number, number>;
  /** Doubling batches for the scaling rows. */
  scaleBatches: number[];
  /** Prompt lengths for the scaling rows (capped below the model's max positions). */
  scalePrompts: number[];
  promptTokens: number;
  newTokens: number;
  scaleNewTokens: number;
  /** Warm-up run length (tokens) before the timed repetitions of a generation cell. */
  warmupTokens: number;
  captureItems: number;
  /** Batch size of the batched peer capture (PP's --hidden_batch_size is 8). */
  peerCaptureBatch: number;
  reps: number;
  /**
   * Our generation cells' repetitions when a plan has both `gen` and `steered-gen`: plain and steered requests
   * interleaved on the same warm worker in ABBA order (pair i is plain→steered for even i, steered→plain for odd i),
   * so `steering_overhead` is the median of paired ratios rather than a difference of two separately timed blocks.
   */
  steerPairs: number;
  steerCoef: number;
  /**
   * Formats that run on fewer cells than the plan's (the quick plan's int4: batch 1 and 16 generation only, no
   * capture, so that the int4 rows fit the plan's budget).
   */
  formatScope?: Record<string, { batches: number[]; workloads: Workload[] }>;
}

/** The quick plan's sizes (see PLANS; chosen from per-cell times measured on random-llama-250m, DESIGN.md). */
export const QUICK = {
  batches: [1, 16, 64],
  /** Short, so that the decode steps outweigh the prefill even at batch 64 (see decodeShare). */
  promptTokens: 8,
  /** ≥ 17 at batch 1 so that ≥ 16 decode steps are timed per repetition; decode forwards 79 / 74 / 65 % of the tokens. */
  newTokensByBatch: { 1: 32, 16: 24, 64: 16 } as Record<number, number>,
  warmupTokens: 4,
  /** 16 pairs (two batches of the batched peer), not 200: the peer needs ~1.4 s (one by one) and ~2.2 s (batched) per pair and repetition at 1 B. */
  captureItems: 16,
  reps: 3,
  /** Plain/steered pairs per batch size for ours (ABBA; ≥ 5 so that the median of paired ratios resolves ~3 %). */
  steerPairs: 5,
  /** int4 answers "at least llama.cpp's Q4_0" (batch-1 decode) and batched generation at 16; batch 64 and capture would not fit 28 min. */
  formatScope: { int4: { batches: [1, 16], workloads: ['gen', 'steered-gen', 'load'] } } as Record<string, { batches: number[]; workloads: Workload[] }>,
};

export function makePlan(o: { plan?: PlanName; quick?: boolean; workloads: Workload[]; batches?: number[]; newTokens?: number; reps?: number; captureItems?: number; steerPairs?: number }): Plan {
  const name: PlanName = o.plan ?? (o.quick ? 'smoke' : 'full');
  const smoke = name === 'smoke', quick = name === 'quick';
  const batches = o.batches ?? (smoke ? [1, 4] : quick ? QUICK.batches : [1, 16, 64]);
  const maxB = Math.max(...batches);
  const scaleBatches: number[] = [];
  for (let b = 1; b <= maxB; b *= 2) scaleBatches.push(b);
  // batch 1 needs ≥ 17 new tokens for ≥ 16 timed decode steps
  const newTokens = o.newTokens ?? (smoke ? 17 : quick ? 32 : 64);
  return {
    name,
    workloads: o.workloads,
    batches,
    ...(quick && o.newTokens === undefined ? { newTokensByBatch: QUICK.newTokensByBatch } : {}),
    scaleBatches,
    scalePrompts: smoke || quick ? [64, 128] : [64, 128, 256, 512, 1024, 2048],
    promptTokens: quick ? QUICK.promptTokens : 32,
    newTokens,
    scaleNewTokens: smoke || quick ? 4 : 16,
    warmupTokens: quick ? QUICK.warmupTokens : Math.min(newTokens, 16),
    captureItems: o.captureItems ?? (smoke ? 16 : quick ? QUICK.captureItems : 200),
    peerCaptureBatch: 8,
    reps: o.reps ?? 3,
    steerPairs: o.steerPairs ?? (smoke ? 3 : QUICK.steerPairs),
    steerCoef: 4,
    ...(quick && o.batches === undefined ? { formatScope: QUICK.formatScope } : {}),
  };
}

/** The plan one format runs: the plan itself, or its batches and workloads narrowed by `formatScope`. */
export function planFor(plan: Plan, format: string): Plan {
  const sc = plan.formatScope?.[format];
  if (!sc) return plan;
  const batches = plan.batches.filter((b) => sc.batches.includes(b));
  return { ...plan, batches: batches.length ? batches : plan.batches, workloads: plan.workloads.filter((w) => sc.workloads.includes(w)), formatScope: undefined };
}

/** Whether our generation cells run as interleaved plain/steered pairs (both workloads in the plan). */
export const pairedSteering = (plan: Plan) => plan.workloads.includes('gen') && plan.workloads.includes('steered-gen');

export const newTokensAt = (plan: Plan, batch: number) => plan.newTokensByBatch?.[batch] ?? plan.newTokens;
/** Share of a generation cell's forwarded tokens that are decode steps: (n − 1) / (P + n − 1) per row. */
export const decodeShare = (plan: Plan, batch: number) => (newTokensAt(plan, batch) - 1) / (plan.promptTokens + newTokensAt(plan, batch) - 1);
export const maxNewTokens = (plan: Plan) => Math.max(plan.newTokens, ...Object.values(plan.newTokensByBatch ?? {}));

/** Deterministic token ids in [3, vocab): no BOS/EOS/pad ids (0–2), different per row. */
export function promptIds(row: number, length: number, vocab: number, salt = 0): number[] {
  return Array.from({ length }, (_, j) => 3 + ((row * 7919 + j * 104729 + salt * 15485863 + ((row * j) % 97)) % (vocab - 3)));
}

export function makePrompts(batch: number, length: number, vocab: number): number[][] {
  return Array.from({ length: batch }, (_, i) => promptIds(i, length, vocab));
}

export interface CaptureIds { prompt: number[]; response: number[] }

/** 200 prompt+response pairs of varied lengths (prompt 24–56, response 16–80 tokens), like extraction's rows. */
export function makeCaptureItems(n: number, vocab: number, maxPositions: number): CaptureIds[] {
  return Array.from({ length: n }, (_, i) => {
    const p = Math.min(24 + ((i * 13) % 33), Math.floor(maxPositions / 2));
    const r = Math.min(16 + ((i * 29) % 65), Math.floor(maxPositions / 2) - 1);
    return { prompt: promptIds(i, p, vocab, 1), response: promptIds(i, r, vocab, 2) };
  });
}

/** A fixed unit direction (cosine pattern) for steering. */
export function steerVector(hidden: number): number[] {
  const v = Array.from({ length: hidden }, (_, i) => Math.cos(0.37 * i + 0.5));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nominal bytes per parameter of each weight format (int8/int4: one float32 scale per 32-weight block assumed). */
export const FORMAT_BYTES_PER_PARAM: Record<string, number> = { f32: 4, f16: 2, bf16: 2, int8: 1 + 4 / 32, int4: 0.5 + 4 / 32 };
