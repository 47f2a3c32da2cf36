/**
 * loadModel(): checkpoint → (cached) graph → onnxruntime session, behind the LoadedModel
 * contract of ./types.ts. Feeds and fetches use the names in ../arch/names.ts.
 */
import os from 'node:os';
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
type KvArray = Float32Array | Uint16Array;
const newKvArray = (dtype: KvDtype, n: number): KvArray => (dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n));

/**
 * KV cache holding onnxruntime tensors [B, kvHeads, P, headDim] per layer (post-RoPE keys): each step's
 * `present.*` outputs are fed back as the next step's `past_key_values.*` as they are.
 *
 * Measured alternative (issue 16), not kept: pre-allocated `present.*` outputs passed in `fetches` (onnxruntime-
 * node writes into them in place) alternating between two JS-owned stores. On the same graph (KV-heavy random
 * Llama, B=16, P=512, 257 MB of KV per step, 2 threads, a machine at load 15–25) one decode step took
 * 1420 ms median / 812 ms min pre-allocated against 1771 / 950 ms fetched by name, 6 runs each: within the
 * noise, so the simpler hand-over stays. (An earlier A/B that blamed the stores compared source trees that
 * also differed by other commits; see DESIGN.md.)
 */
class OrtKvCache implements KvCache {
  private disposed = false;

  constructor(
    readonly owner: symbol,
    readonly shape: KvShape,
    readonly dtype: KvDtype,
    readonly batch: number,
    readonly pastLength: number,
    private keys: ort.Tensor[],
    private values: ort.Tensor[],
  ) {}

  static empty(owner: symbol, shape: KvShape, dtype: KvDtype, batch: number): OrtKvCache {
    const mk = () => new ort.Tensor(dtype, newKvArray(dtype, 0), [batch, shape.numKvHeads, 0, shape.headDim]);
    const n = shape.numLayers;
    return new OrtKvCache(owner, shape, dtype, batch, 0, Array.from({ length: n }, mk), Array.from({ length: n }, mk));
  }

  tensors(): { keys: ort.Tensor[]; values: ort.Tensor[] } {
    if (this.disposed) throw new ForwardError('this KV cache was disposed; pass the `present` of the latest forward() instead', 'disposed');
    return { keys: this.keys, values: this.values };
  }

  selectRows(rows: number[]): KvCache {
    const { keys, values } = this.tensors();
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new ForwardError(`selectRows: row ${r} is outside 0..${this.batch - 1}`);
    const rowSize = this.shape.numKvHeads * this.pastLength * this.shape.headDim;
    const pick = (t: ort.Tensor) => {
      const src = t.data as KvArray;
      const out = newKvArray(this.dtype, rows.length * rowSize);
      rows.forEach((r, i) => out.set(src.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
      return new ort.Tensor(this.dtype, out, [rows.length, this.shape.numKvHeads, this.pastLength, this.shape.headDim]);
    };
    return new OrtKvCache(this.owner, this.shape, this.dtype, rows.length, this.pastLength, keys.map(pick), values.map(pick));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.keys, ...this.values]) t.dispose?.();
    this.keys = [];
    this.values = [];
  }
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
    const fetches: string[] = [];
    for (let l = 0; l < L; l++) fetches.push(IO.presentKey(l), IO.presentValue(l));
    if (inputs.logits !== 'none') fetches.push(IO.logits);
    if (inputs.hiddenStates) for (let i = 0; i <= L; i++) fetches.push(IO.hiddenState(i));
    if (capture) fetches.push(IO.captured);
    const out = await session.run(feeds, fetches);

    const present = (name: (l: number) => string) => Array.from({ length: L }, (_, l) => out[name(l)]);
    const result: ForwardOutputs = { present: new OrtKvCache(this.id, this.kvShape, this.kvDtype, B, P + S, present(IO.presentKey), present(IO.presentValue)) };
    if (inputs.logits !== 'none') {
      const logits = out[IO.logits].data as Float32Array;
      expect('logits output', logits.length, B * (inputs.logits === 'all' ? S : 1) * V);
      result.logits = logits;
    }
    if (inputs.hiddenStates) result.hiddenStates = Array.from({ length: L + 1 }, (_, i) => out[IO.hiddenState(i)].data as Float32Array);
    if (capture) result.captured = out[IO.captured].data as Float32Array;
    return result;
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
