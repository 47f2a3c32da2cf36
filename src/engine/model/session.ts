/**
 * loadModel(): checkpoint → (cached) graph → onnxruntime session, behind the LoadedModel
 * contract of ./types.ts. Feeds and fetches use the names in ../arch/names.ts.
 */
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as ort from 'onnxruntime-node';
import { IO } from '../arch/names.js';
import { lookupArchitecture } from '../arch/registry.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { compileToCache, defaultCacheDir, formatSpec } from './compile.js';
import { normalizeConfig, type ArchConfig } from './config.js';
import { openCachedSession, type SessionCacheState } from './ort-cache.js';
import { providerHint } from './providers.js';
import { CompileError } from './errors.js';
import { FORMATS_BY_PROVIDER, WEIGHT_FORMATS, type ExecutionProvider, type ForwardInputs, type ForwardOutputs, type GraphVariant, type KvCache, type LoadedModel, type LoadOptions, type ModelRef, type NormalizedConfig, type WeightFormat } from './types.js';

/** Thrown for invalid forward() inputs (wrong lengths, foreign or disposed caches). */
import { ForwardError } from './errors.js';

export { ForwardError };

interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

/** Element type of the KV cache, read from the graph's `past_key_values.0.key` input (float16 for half-precision formats). */
type KvDtype = 'float32' | 'float16';
export type KvArray = Float32Array | Uint16Array;
const newKvArray = (dtype: KvDtype, n: number): KvArray => (dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n));

/*
 * How a KV cache lineage hands each step's keys and values over to the next step: the graph returns only the
 * step's new ones (`new_key_values.*`), `appendKv` lays past + new into one of two JS-owned stores per lineage that
 * alternate (ping-pong; a first forward's onnxruntime writes straight into its store), and the next step feeds views
 * of the same store as `past_key_values.*`. Sized once for the whole generation (`newKvCache`), a decode loop
 * then allocates no stores after its first steps. onnxruntime-node 1.30 returns a JS copy of every output (also
 * of one it wrote in place); forward() drops those once appended and `collectDiscardedOutputs` frees them right
 * away. Before, the graph returned the whole `present` cache, and that per-step copy (the whole cache, freshly
 * allocated, then collected) cost 7–15 % of a batched decode step and up to one cache of transient memory.
 */

/**
 * Backing storage for one cache generation: per layer, a key and a value array of `capacity` elements, of
 * which a cache uses the first B·kvHeads·T·headDim as its [B, kvHeads, T, headDim] tensor. `holder` is
 * the live cache whose contents these are (null once it is disposed: the storage may then be reused).
 */
interface KvStore {
  holder: OrtKvCache | null;
  capacity: number;
  keys: KvArray[];
  values: KvArray[];
  /** A view store: these arrays are the rows from `offset` (elements) of `base` (see `splitKvRows`). */
  base?: KvStore;
  offset?: number;
  /** Zeros that several caches read as their past (`zeroPast`): never handed out as a spare to write into. */
  pinned?: boolean;
  /** A shared store's zero past for its row groups (`zeroPast`), allocated by the first group that needs one. */
  zeros?: KvStore;
}

/** Where a row group's cache of `tokens` positions goes when it is complete: its rows' place in a shared store. */
interface KvTarget {
  store: KvStore;
  offset: number;
  batch: number;
  tokens: number;
}

/** Positions of headroom a store gets beyond what a step needs when its lineage reserved nothing (decode appends one per step). */
const KV_HEADROOM = 64;

/**
 * V8's collector, for `forward` to free onnxruntime-node's discarded output copies while they are young (a
 * scavenge: ≈ 0.2 ms with this process's small heap). Exposed the way jest's leak detector does it; null where
 * the runtime refuses, and then V8 frees them on its own schedule as before. Array buffers are then swept on the
 * main thread, during the scavenge: with V8's default concurrent sweeping a freed copy's memory came back only
 * later, so one step's copy (the whole KV cache) still overlapped the next (probed: 240 vs 180 MiB of buffers).
 */
let collector: ((opts?: { type: 'minor' | 'major' }) => void) | null | undefined;
/**
 * Discarded bytes from which a full collection is worth its few milliseconds (see collectGarbage): a scavenge
 * does not free those copies (probed on the 1 B model: onnxruntime-node's large output buffers were already
 * promoted or pretenured when the scavenge ran), a full collection of this small heap does (7–9 ms measured).
 */
const MAJOR_GC_BYTES = 32 * 2 ** 20;
/** The most a full collection may cost relative to the forward whose copies it frees (fast providers skip it). */
const MAJOR_GC_SHARE = 0.05;
let lastMajorGcMs = 0;
let lastRunMs = 0;
function collectGarbage(discardedBytes: number): void {
  if (collector === undefined) {
    try {
      v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
      v8.setFlagsFromString('--expose-gc');
      collector = vm.runInNewContext('gc') as typeof collector;
    } catch {
      collector = null;
    }
  }
  if (collector && discardedBytes >= MAJOR_GC_BYTES && lastMajorGcMs <= MAJOR_GC_SHARE * lastRunMs) {
    const t0 = performance.now();
    collector(); // (V8 11's gc({ type: 'major' }) freed nothing here; gc() does)
    lastMajorGcMs = performance.now() - t0;
  } else {
    // Retried once its last cost has decayed below the share (a slow first collection is not held against it for ever).
    lastMajorGcMs *= 0.7;
    collector?.({ type: 'minor' });
  }
}

let discardedBytes = 0;
/**
 * Frees the output copies that forward() calls since the last call discarded (see OrtModel.forward: onnxruntime-node
 * returns a copy of every present.* it wrote into a store). A generation loop calls it after each forward: without
 * it, one or two steps' copies (each the size of the whole KV cache) stay in memory until V8 collects on its own.
 */
export function collectDiscardedOutputs(): void {
  if (discardedBytes === 0) return;
  collectGarbage(discardedBytes);
  discardedBytes = 0;
}

/**
 * Lays out a cache of `past` + `S` new positions in `dst`: per row (batch × kv head), its P past positions then its
 * S new ones, each of `D` elements — what the graph's own Concat of past and new along the position axis computes,
 * element for element. `past` holds rows·P·D elements, `fresh` rows·S·D. Hand-written: two contiguous copies per
 * row are all it is, and onnxruntime-node has no way to keep a cache inside the runtime between runs.
 */
export function appendKv(dst: KvArray, past: KvArray, fresh: KvArray, rows: number, P: number, S: number, D: number): void {
  const pr = P * D, sr = S * D, tr = pr + sr;
  for (let r = 0; r < rows; r++) {
    dst.set(past.subarray(r * pr, r * pr + pr), r * tr);
    dst.set(fresh.subarray(r * sr, r * sr + sr), r * tr + pr);
  }
}

let kvStoresAllocated = 0;
/** How many KV stores this process has allocated so far (tests: a sized generation allocates two, then none per step). */
export const kvStoreAllocations = (): number => kvStoresAllocated;

/**
 * KV cache [B, kvHeads, P, headDim] per layer (post-RoPE keys), living in a `KvStore`; a cache remembers the
 * store its predecessor used (`spare`) and, once that predecessor is disposed, the next forward writes into it
 * instead of allocating. A branch (a past continued twice) never writes into a store a live cache holds.
 * `reserve` (positions) sizes new stores for the whole lineage.
 */
class OrtKvCache implements KvCache {
  private disposed = false;

  constructor(
    readonly owner: symbol,
    readonly shape: KvShape,
    readonly dtype: KvDtype,
    readonly batch: number,
    readonly pastLength: number,
    readonly reserve: number,
    private store: KvStore | null,
    private spare: KvStore | null,
    readonly target: KvTarget | null = null,
  ) {
    if (store) store.holder = this;
  }

  /** The store this cache's data lives in (tests and joinKvRows). */
  get storage(): KvStore | null {
    return this.store;
  }

  static empty(owner: symbol, shape: KvShape, dtype: KvDtype, batch: number, reserve = 0, target: KvTarget | null = null): OrtKvCache {
    return new OrtKvCache(owner, shape, dtype, batch, 0, reserve, null, null, target);
  }

  /** Elements of one layer's key (or value) tensor for `batch` rows of `tokens` positions. */
  elements(batch: number, tokens: number): number {
    return batch * this.shape.numKvHeads * tokens * this.shape.headDim;
  }

  private check(): void {
    if (this.disposed) throw new ForwardError('this KV cache was disposed; pass the `present` of the latest forward() instead', 'disposed');
  }

  /** The cache as onnxruntime tensors (in 'stores' mode views of its store: no copy). */
  tensors(): { keys: ort.Tensor[]; values: ort.Tensor[] } {
    this.check();
    const n = this.elements(this.batch, this.pastLength);
    const dims = [this.batch, this.shape.numKvHeads, this.pastLength, this.shape.headDim];
    const view = (a: KvArray | undefined) => new ort.Tensor(this.dtype, a ? a.subarray(0, n) : newKvArray(this.dtype, 0), dims);
    const L = this.shape.numLayers;
    return {
      keys: Array.from({ length: L }, (_, l) => view(this.store?.keys[l])),
      values: Array.from({ length: L }, (_, l) => view(this.store?.values[l])),
    };
  }

  /**
   * A store with room for `batch` rows of `tokens` positions for the next cache generation: this cache's spare
   * when nobody holds it any more and it is large enough, else a new one sized for the lineage's reserve (or
   * with KV_HEADROOM positions of headroom when it reserved none).
   */
  takeStore(batch: number, tokens: number): KvStore {
    this.check();
    const need = this.elements(batch, tokens);
    const t = this.target;
    if (t && t.batch === batch && t.tokens === tokens) {
      // The lineage's last forward: write straight into its rows of the shared store.
      const view = (a: KvArray) => a.subarray(t.offset, t.offset + need);
      return { holder: null, capacity: need, keys: t.store.keys.map(view), values: t.store.values.map(view), base: t.store, offset: t.offset };
    }
    const s = this.spare;
    this.spare = null;
    if (s && s.holder === null && !s.pinned && s.capacity >= need) return s;
    const L = this.shape.numLayers;
    // Without a reserve: a first forward (a prefill, or a capture that is never continued) gets exactly what it
    // needs; a continued lineage grows with headroom, so a loop that reserved nothing reallocates every 64 steps.
    const capacity = Math.max(need, this.elements(batch, this.reserve > 0 ? this.reserve : this.pastLength === 0 ? tokens : tokens + KV_HEADROOM));
    kvStoresAllocated++;
    return {
      holder: null, capacity,
      keys: Array.from({ length: L }, () => newKvArray(this.dtype, capacity)),
      values: Array.from({ length: L }, () => newKvArray(this.dtype, capacity)),
    };
  }

  /** The next generation: `store` now holds its data; this cache's own store becomes its spare. */
  successor(batch: number, pastLength: number, store: KvStore): OrtKvCache {
    return new OrtKvCache(this.owner, this.shape, this.dtype, batch, pastLength, this.reserve, store, this.store, this.target);
  }

  /** Per layer, the key and value arrays holding exactly this cache's [B, kvHeads, T, headDim] elements. */
  arrays(): { keys: KvArray[]; values: KvArray[] } {
    const { keys, values } = this.tensors();
    return { keys: keys.map((t) => t.data as KvArray), values: values.map((t) => t.data as KvArray) };
  }

  /**
   * This empty cache continued by `tokens` positions whose keys and values are zeros (see `zeroPast`): the
   * store the next forward reads as its past, zero-filled (a reused spare may hold an older step's data).
   */
  withZeroPast(tokens: number, exact: boolean): OrtKvCache {
    this.check();
    if (this.pastLength !== 0) throw new ForwardError(`withZeroPast: the cache already holds ${this.pastLength} positions`);
    const n = this.elements(this.batch, tokens);
    const L = this.shape.numLayers;
    const t = this.target;
    const fresh = (capacity: number): KvStore => {
      kvStoresAllocated++; // fresh arrays are zeros
      const arrays = () => Array.from({ length: L }, () => newKvArray(this.dtype, capacity));
      return { holder: null, capacity, keys: arrays(), values: arrays(), pinned: true };
    };
    let store: KvStore;
    if (t && !(t.batch === this.batch && t.tokens === tokens)) {
      // A row group of a split prefill (splitKvRows): the groups run one after another and only read their past,
      // so they share one pinned zero store, sized for the first (largest) group's whole prefix.
      const shared = t.store.base ?? t.store;
      if (!shared.zeros || shared.zeros.capacity < n) shared.zeros = fresh(Math.max(n, this.elements(t.batch, t.tokens)));
      store = shared.zeros;
    } else if (exact && !t) {
      store = fresh(n);
    } else {
      store = this.takeStore(this.batch, tokens);
      for (let l = 0; l < L; l++) {
        store.keys[l].fill(0, 0, n);
        store.values[l].fill(0, 0, n);
      }
    }
    return this.successor(this.batch, tokens, store);
  }

  selectRows(rows: number[]): KvCache {
    this.check();
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new ForwardError(`selectRows: row ${r} is outside 0..${this.batch - 1}`);
    const rowSize = this.elements(1, this.pastLength);
    const src = this.arrays();
    const pick = (from: KvArray, to: KvArray) => rows.forEach((r, i) => to.set(from.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
    if (this.pastLength === 0) return new OrtKvCache(this.owner, this.shape, this.dtype, rows.length, 0, this.reserve, null, this.spare);
    const target = this.takeStore(rows.length, this.pastLength);
    for (let l = 0; l < this.shape.numLayers; l++) {
      pick(src.keys[l], target.keys[l]);
      pick(src.values[l], target.values[l]);
    }
    return this.successor(rows.length, this.pastLength, target);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.store?.holder === this) this.store.holder = null;
    this.store = null;
    this.spare = null;
  }
}

/**
 * An empty KV cache for `model` — what forward() starts from when `past` is null — whose lineage's stores are
 * sized for `positions` positions (a generation's padded prompt + new tokens), so that its decode loop allocates
 * its two stores once. Null for a model this module did not load
 * (e.g. a test double): the caller then passes `past: null` as before.
 */
export function newKvCache(model: LoadedModel, batch: number, positions: number): KvCache | null {
  return model instanceof OrtModel ? model.emptyCache(batch, positions) : null;
}

/**
 * `cache` (an empty cache from `newKvCache`/`splitKvRows`) continued by `tokens` positions whose keys and values are
 * zeros, for a forward that starts after the leading columns of a left-padded batch that are pads in every row.
 * No forward needs to compute those columns: every query masks their keys (finfo.min), so their attention
 * weights are exact zeros and zero keys and values give the real tokens the same bits as computed ones (0 · V = 0,
 * and the key axis keeps its length, hence every row's SIMD lanes; tested bitwise against computing them in
 * test/engine/worker/pad-skip.integration.test.ts). The pad columns' own outputs, which nothing reads, differ.
 * The zero store is sized like the lineage's next store (so a generation's decode loop still alternates between
 * two), or exactly `tokens` positions with `exact` (a single forward, e.g. a capture, whose store is not reused).
 * Null when `cache` is null (a model this module did not load): the caller then computes the pads as before.
 */
export function zeroPast(cache: KvCache | null, tokens: number, opts: { exact?: boolean } = {}): KvCache | null {
  if (!(cache instanceof OrtKvCache)) return null;
  return tokens > 0 ? cache.withZeroPast(tokens, opts.exact ?? false) : cache;
}

/**
 * Empty caches for row groups of `sizes` rows (a prefill split by rows, generate.ts), whose lineages end at
 * `tokens` positions: in 'stores' mode each group's last forward writes its present.* straight into the group's
 * rows of one store sized for all the rows and `positions` positions, so that `joinKvRows` copies nothing and the
 * groups leave no stores behind. Null for a model this module did not load.
 */
export function splitKvRows(model: LoadedModel, sizes: readonly number[], tokens: number, positions: number): KvCache[] | null {
  if (!(model instanceof OrtModel)) return null;
  const B = sizes.reduce((a, b) => a + b, 0);
  const seed = model.emptyCache(B, positions) as OrtKvCache;
  const shared = seed.takeStore(B, tokens);
  let row = 0;
  return sizes.map((n) => {
    const target: KvTarget = { store: shared, offset: seed.elements(row, tokens), batch: n, tokens };
    row += n;
    return OrtKvCache.empty(seed.owner, seed.shape, seed.dtype, n, tokens, target);
  });
}

/**
 * The rows of `parts` (caches of one model with the same past length, e.g. the row groups of a prefill) as one
 * cache, in order, sized for `positions` positions like `newKvCache`. The parts are disposed. Parts made by
 * `splitKvRows` that ended in their rows of its shared store are joined without a copy.
 */
export function joinKvRows(parts: readonly KvCache[], positions: number): KvCache {
  const caches = parts.map((p) => {
    if (!(p instanceof OrtKvCache) || p.owner !== (parts[0] as OrtKvCache).owner) throw new ForwardError('joinKvRows: every part must be a KV cache of the same model');
    return p;
  });
  const first = caches[0];
  if (!first) throw new ForwardError('joinKvRows: no parts');
  const T = first.pastLength;
  if (caches.some((c) => c.pastLength !== T)) throw new ForwardError(`joinKvRows: parts have different past lengths (${caches.map((c) => c.pastLength).join(', ')})`);
  const B = caches.reduce((n, c) => n + c.batch, 0);
  const L = first.shape.numLayers;
  let joined: OrtKvCache;
  const shared = first.storage?.base;
  let row = 0;
  const inPlace = !!shared && caches.every((c) => {
    const st = c.storage;
    const ok = st?.base === shared && st.offset === c.elements(row, T);
    row += c.batch;
    return ok;
  }) && shared.capacity >= first.elements(B, T);
  if (inPlace) {
    joined = OrtKvCache.empty(first.owner, first.shape, first.dtype, B, positions).successor(B, T, shared);
  } else {
    const seed = OrtKvCache.empty(first.owner, first.shape, first.dtype, B, positions);
    const store = seed.takeStore(B, T);
    let at = 0;
    for (const c of caches) {
      const a = c.arrays();
      for (let l = 0; l < L; l++) {
        store.keys[l].set(a.keys[l], at);
        store.values[l].set(a.values[l], at);
      }
      at += a.keys[0]?.length ?? 0;
    }
    joined = seed.successor(B, T, store);
  }
  for (const c of caches) c.dispose();
  if (shared) delete shared.zeros; // the row groups' zero past (zeroPast) is not needed once they are joined
  return joined;
}

function publicConfig(c: ArchConfig): NormalizedConfig {
  return {
    architecture: c.architecture, modelType: c.modelType, numLayers: c.numLayers, hiddenSize: c.hiddenSize,
    numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize, maxPositions: c.maxPositions, bosTokenId: c.bosTokenId, eosTokenId: c.eosTokenId, padTokenId: c.padTokenId,
  };
}

export function sessionOptions(opts: LoadOptions, ep: ExecutionProvider, weightMemory: 'mapped' | 'prepacked'): ort.InferenceSession.SessionOptions {
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  if (opts.intraOpNumThreads) so.intraOpNumThreads = opts.intraOpNumThreads;
  // 'mapped': keep weights in the mmapped external-data pages instead of repacking a private copy.
  if (weightMemory === 'mapped') so.extra = { session: { disable_prepacking: '1' } };
  return so;
}

/** True when the checkpoint's matrices are stored in half precision (BF16/F16). */
function halfPrecisionCheckpoint(ckpt: Checkpoint): boolean {
  for (const t of ckpt.tensors.values()) if (t.shape.length === 2) return t.dtype === 'BF16' || t.dtype === 'F16';
  return false;
}

/**
 * The weight memory a load uses. int8/int4: always prepacked (MatMulNBits' CPU kernels only run fast on
 * their prepacked layout; unpacked they dequantize per call, ~1000× slower). f32: the caller's choice, else
 * mapped for F32 checkpoints and prepacked for BF16/F16 ones (their float32 widening is a private copy in
 * either mode, so mapped would only give up prepacking: measured 1.2–1.9× slower, DESIGN.md). f16/bf16: mapped.
 */
export function effectiveWeightMemory(format: WeightFormat, requested: LoadOptions['weightMemory'], halfCheckpoint: boolean): 'mapped' | 'prepacked' {
  if (format === 'int8' || format === 'int4') return 'prepacked';
  if (requested) return requested;
  return format === 'f32' && halfCheckpoint ? 'prepacked' : 'mapped';
}

/** Refuse a weight format the provider cannot run, before any work, naming the formats that do run there. */
export function checkWeightFormat(format: unknown, ep: ExecutionProvider, testOnlyCpuHalf = false): WeightFormat {
  if (!WEIGHT_FORMATS.includes(format as WeightFormat)) {
    throw new CompileError('unsupported-dtype', `unknown weight format ${JSON.stringify(format)}; use one of ${WEIGHT_FORMATS.join(', ')}`);
  }
  const ok = FORMATS_BY_PROVIDER[ep];
  if (!ok.includes(format as WeightFormat) && !(testOnlyCpuHalf && ep === 'cpu' && format === 'f16')) {
    const why = ep === 'webgpu'
      ? 'WebGPU has no bfloat16 type'
      : format === 'bf16'
        ? "onnxruntime's CPU provider has no bfloat16 matrix multiply"
        : "onnxruntime's CPU provider computes float16 through float32 casts: more memory than f32 and slower";
    throw new CompileError('unsupported-dtype', `weight format ${format} cannot run on the ${ep} execution provider (${why}); on ${ep} use ${ok.join(', ')} (f16 and bf16 are for GPU providers: f16 on webgpu or cuda, bf16 on cuda)`);
  }
  return format as WeightFormat;
}

class OrtModel implements LoadedModel {
  private readonly id = Symbol('model');
  private readonly kvShape: KvShape;
  private readonly kvDtype: KvDtype;
  private readonly positionLimit: number;

  /** The public, JSON-serialisable view (the worker sends it over RPC); the compiler's ArchConfig stays internal. */
  readonly config: NormalizedConfig;

  constructor(
    arch: ArchConfig,
    readonly variant: GraphVariant,
    readonly executionProvider: ExecutionProvider,
    readonly modelDir: string,
    readonly info: LoadedModel['info'],
    private session: ort.InferenceSession | null,
  ) {
    this.config = publicConfig(arch);
    // Learned position tables (GPT-2) and the fused variant's RoPE caches end at max_position_embeddings.
    this.positionLimit = !arch.rope || variant === 'fused' ? arch.maxPositions : Infinity;
    this.kvShape = { numLayers: arch.numLayers, numKvHeads: arch.numKvHeads, headDim: arch.headDim };
    const pastMeta = session?.inputMetadata.find((m) => m.name === IO.pastKey(0));
    this.kvDtype = pastMeta?.isTensor && pastMeta.type === 'float16' ? 'float16' : 'float32';
  }

  async forward(inputs: ForwardInputs): Promise<ForwardOutputs> {
    const session = this.session;
    if (!session) throw new ForwardError('the model was disposed', 'disposed');
    const { batch: B, seqLen: S } = inputs;
    const { numLayers: L, hiddenSize: H, vocabSize: V } = this.config;
    if (!(B > 0 && S > 0)) throw new ForwardError(`batch (${B}) and seqLen (${S}) must be positive`);
    let past: OrtKvCache;
    if (inputs.past) {
      if (!(inputs.past instanceof OrtKvCache) || inputs.past.owner !== this.id) throw new ForwardError('past is a KV cache from a different model');
      if (inputs.past.batch !== B) throw new ForwardError(`past has ${inputs.past.batch} rows but batch is ${B}; use selectRows() to drop rows`);
      past = inputs.past;
    } else {
      past = OrtKvCache.empty(this.id, this.kvShape, this.kvDtype, B);
    }
    const P = past.pastLength;
    const expect = (what: string, len: number, want: number) => {
      if (len !== want) throw new ForwardError(`${what} has ${len} elements, expected ${want}`);
    };
    expect('inputIds [B,S]', inputs.inputIds.length, B * S);
    expect('positionIds [B,S]', inputs.positionIds.length, B * S);
    expect('attentionMask [B,past+S]', inputs.attentionMask.length, B * (P + S));
    for (const p of inputs.positionIds) {
      if (p < 0n || p >= this.positionLimit) {
        throw new ForwardError(`position id ${p} is outside 0..${this.positionLimit - 1} (max_position_embeddings of this ${this.variant} graph); shorten the context`, 'position-out-of-range');
      }
    }
    let steer = inputs.steer;
    if (steer) expect('steer [B,L+1,H]', steer.length, B * (L + 1) * H);
    else steer = new Float32Array(B * (L + 1) * H);
    const capture = inputs.capture ?? null;
    if (capture) {
      if (!(Number.isInteger(capture.k) && capture.k > 0)) throw new ForwardError(`capture.k must be a positive integer, got ${capture.k}`);
      expect('capture.weights [B,S,k]', capture.weights.length, B * S * capture.k);
    }
    let steerMask = inputs.steerMask;
    if (steerMask) expect('steerMask [B,S]', steerMask.length, B * S);
    else steerMask = new Float32Array(B * S).fill(inputs.steer ? 1 : 0);

    const { keys, values } = past.tensors();
    const feeds: Record<string, ort.Tensor> = {
      [IO.inputIds]: new ort.Tensor('int64', inputs.inputIds, [B, S]),
      [IO.attentionMask]: new ort.Tensor('int64', inputs.attentionMask, [B, P + S]),
      [IO.positionIds]: new ort.Tensor('int64', inputs.positionIds, [B, S]),
      [IO.steer]: new ort.Tensor('float32', steer, [B, L + 1, H]),
      [IO.steerMask]: new ort.Tensor('float32', steerMask, [B, S]),
      [IO.logitsToKeep]: new ort.Tensor('int64', BigInt64Array.of(BigInt(inputs.logits === 'all' ? S : 1)), [1]),
      [IO.captureWeights]: capture
        ? new ort.Tensor('float32', capture.weights, [B, S, capture.k])
        : new ort.Tensor('float32', new Float32Array(0), [B, S, 0]),
    };
    for (let l = 0; l < L; l++) {
      feeds[IO.pastKey(l)] = keys[l];
      feeds[IO.pastValue(l)] = values[l];
    }
    // The new keys and values: without a past they are the whole next cache, so onnxruntime writes them straight
    // into a store of the lineage (see OrtKvCache); with one it returns them and appendKv lays past + new into the
    // store below. null = onnxruntime allocates.
    const fetches: Record<string, ort.Tensor | null> = {};
    const store = past.takeStore(B, P + S);
    const newDims = [B, this.kvShape.numKvHeads, S, this.kvShape.headDim];
    const n = past.elements(B, P + S);
    for (let l = 0; l < L; l++) {
      fetches[IO.newKey(l)] = P === 0 ? new ort.Tensor(this.kvDtype, store.keys[l].subarray(0, n), newDims) : null;
      fetches[IO.newValue(l)] = P === 0 ? new ort.Tensor(this.kvDtype, store.values[l].subarray(0, n), newDims) : null;
    }
    if (inputs.logits !== 'none') fetches[IO.logits] = null;
    if (inputs.hiddenStates) for (let i = 0; i <= L; i++) fetches[IO.hiddenState(i)] = null;
    if (capture) fetches[IO.captured] = null;
    const tRun = performance.now();
    const out = await session.run(feeds, fetches);
    lastRunMs = performance.now() - tRun;

    {
      // onnxruntime-node 1.30 returns a fresh JS copy of every output, also of one it wrote in place (probed: the
      // returned data is another ArrayBuffer with equal contents). Once appended (or, without a past, already in
      // the store) the new keys and values are garbage; dropping them and collecting frees them now, while they are
      // young, instead of whenever V8's external-memory heuristics next collect. A decode step's are a few KiB; a
      // prefill's are its whole cache.
      const copies = out as Record<string, ort.Tensor | undefined>;
      if (P > 0) {
        // The past's arrays are the views already fed as past_key_values (keys / values above).
        const rows = B * this.kvShape.numKvHeads, D = this.kvShape.headDim;
        for (let l = 0; l < L; l++) {
          appendKv(store.keys[l], keys[l].data as KvArray, copies[IO.newKey(l)]!.data as KvArray, rows, P, S, D);
          appendKv(store.values[l], values[l].data as KvArray, copies[IO.newValue(l)]!.data as KvArray, rows, P, S, D);
        }
      }
      for (let l = 0; l < L; l++) {
        delete copies[IO.newKey(l)];
        delete copies[IO.newValue(l)];
      }
      // Freed by the caller's collectDiscardedOutputs(): until forward() has returned they are still reachable
      // (measured: a collection here, or in a setImmediate after it, left one step's copies alive now and then;
      // one in the caller right after the await freed them every step).
      discardedBytes += 2 * L * past.elements(B, S) * (this.kvDtype === 'float16' ? 2 : 4);
    }
    const result: ForwardOutputs = { present: past.successor(B, P + S, store) };
    if (inputs.logits !== 'none') {
      const logits = out[IO.logits].data as Float32Array;
      expect('logits output', logits.length, B * (inputs.logits === 'all' ? S : 1) * V);
      result.logits = logits;
    }
    if (inputs.hiddenStates) result.hiddenStates = Array.from({ length: L + 1 }, (_, i) => out[IO.hiddenState(i)].data as Float32Array);
    if (capture) result.captured = out[IO.captured].data as Float32Array;
    return result;
  }

  /** See `newKvCache`. */
  emptyCache(batch: number, positions: number): KvCache {
    return OrtKvCache.empty(this.id, this.kvShape, this.kvDtype, batch, positions);
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) await s.release();
  }
}

/**
 * Load a checkpoint: resolve the folder or HF-cache revision, compile (or reuse) the graph for
 * the requested variant, and open an onnxruntime session on the requested execution provider.
 * EPs do not fall back silently: a failing 'cuda'/'webgpu' throws, and the caller decides.
 */
export async function loadModel(ref: ModelRef, opts: LoadOptions = {}): Promise<LoadedModel> {
  const t0 = performance.now();
  const variant = opts.variant ?? 'portable';
  const ep = opts.executionProvider ?? 'cpu';
  const format = checkWeightFormat(opts.weightFormat ?? 'f32', ep, opts.testOnlyCpuHalf);
  const fmt = formatSpec(format, opts.quantization);
  const ckpt = openCheckpoint(ref);
  const family = lookupArchitecture(ckpt.rawConfig);
  const cfg = normalizeConfig(ckpt.rawConfig, family.defaults(String(ckpt.rawConfig.model_type ?? '')), `${ckpt.modelDir}/config.json`);
  const tOpened = performance.now();
  const compiled = compileToCache(family, cfg, ckpt, variant, opts.cacheDir ?? defaultCacheDir(), fmt);
  const tCompiled = performance.now();
  const halfCkpt = halfPrecisionCheckpoint(ckpt);
  const weightMemory = effectiveWeightMemory(format, opts.weightMemory, halfCkpt);
  let session: ort.InferenceSession;
  let sessionCache: SessionCacheState = 'off';
  // The session cache pays off where onnxruntime rebuilds weights at load (prepacking, or folding a half checkpoint's
  // Casts); an F32 checkpoint mapped as is loads fast already and would only gain a second copy on disk. f32 only:
  // onnxruntime 1.30 restores saved prepacked MatMulNBits weights wrongly (int8 logits NaN, int4 off by up to 4.2 on
  // a random Llama; test/engine/session-cache.integration.test.ts), so int8/int4 prepack at every load.
  const useSessionCache = opts.sessionCache !== false && ep === 'cpu' && format === 'f32'
    && (weightMemory === 'prepacked' || halfCkpt) && !compiled.besideWeights;
  try {
    if (useSessionCache) ({ session, state: sessionCache } = await openCachedSession(compiled.onnxPath, sessionOptions(opts, ep, weightMemory)));
    else session = await ort.InferenceSession.create(compiled.onnxPath, sessionOptions(opts, ep, weightMemory));
  } catch (e) {
    const hint = providerHint(ep);
    throw new Error(`onnxruntime could not open the ${variant} ${format} graph for ${cfg.architecture} on the ${ep} execution provider: ${(e as Error).message}${hint ? ` — ${hint}` : ''}`, { cause: e });
  }
  const tSession = performance.now();
  const info = {
    loadMs: tSession - t0,
    loadStages: { checkpointMs: tOpened - t0, compileMs: tCompiled - tOpened, sessionMs: tSession - tCompiled, sessionCache },
    compileMs: compiled.compileMs,
    cacheHit: compiled.cacheHit,
    weightBytes: ckpt.weightBytes,
    onnxPath: compiled.onnxPath,
    threads: opts.intraOpNumThreads ?? os.availableParallelism(),
    weightFormat: format,
    weightMemory,
    residentWeightBytes: compiled.residentWeightBytes,
    kvBytesPerToken: 2 * cfg.numLayers * cfg.numKvHeads * cfg.headDim * (format === 'f16' ? 2 : 4),
  };
  return new OrtModel(cfg, variant, ep, ckpt.modelDir, info, session);
}
