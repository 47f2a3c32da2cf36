/**
 * The worker's loaded models: compiled graph (src/engine/model/session.ts), tokenizer, EOS ids and the
 * ModelInfo reported to clients. Loading with 'auto' tries cuda (when its libraries are installed), then
 * webgpu (when a GPU device exists), then cpu, each in its own try/catch, because onnxruntime-node throws
 * instead of falling back (../model/providers.ts). Unloading disposes the sessions so
 * that a sweep can load revision after revision without growing.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { holdCacheEntry } from '../model/cache-stamp.js';
import { COMPILER_VERSION } from '../model/compile.js';
import { autoProviders } from '../model/providers.js';
import type { ExecutionProvider, LoadedModel, ModelRef } from '../model/types.js';
import type { LoadModelParams, ModelInfo } from '../protocol.js';
import { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { ReasonError } from '../errors.js';
import { WorkerFault, WIRE_ERRORS } from './errors.js';

export interface ModelEntry {
  id: string;
  model: LoadedModel;
  tokenizer: ModelTokenizer | null;
  info: ModelInfo;
  eosTokenIds: number[];
  padTokenId: number;
}

/** A typed error about the checkpoint itself (not the execution provider): it fails the same way on every provider. */
const isModelError = (e: unknown): e is ReasonError =>
  e instanceof ReasonError && Object.hasOwn(WIRE_ERRORS, e.name) && (WIRE_ERRORS[e.name].counts === 'load-failed' || e.name === 'SafetensorsError');

const asIds = (x: unknown): number[] => (Array.isArray(x) ? x.filter((v): v is number => typeof v === 'number') : typeof x === 'number' ? [x] : []);

export class ModelRegistry {
  private readonly models = new Map<string, ModelEntry>();
  /** Per loaded model, the release of its compile-cache entry's hold (`cache prune` keeps an entry a model uses). */
  private readonly holds = new Map<string, () => void>();
  private counter = 0;

  constructor(private readonly defaultThreads?: number) {}

  get(modelId: string): ModelEntry {
    const m = this.models.get(modelId);
    if (!m) {
      const loaded = [...this.models.keys()];
      throw new WorkerFault('model-not-loaded', `model '${modelId}' is not loaded in this worker (loaded: ${loaded.length ? loaded.join(', ') : 'none'}); call loadModel first`);
    }
    return m;
  }

  list(): ModelInfo[] {
    return [...this.models.values()].map((m) => ({ ...m.info, rssBytes: process.memoryUsage().rss }));
  }

  async load(p: LoadModelParams): Promise<ModelInfo> {
    if (!p?.path) throw new WorkerFault('bad-request', 'loadModel needs a checkpoint folder in `path`');
    const ref: ModelRef = p.revision ? { kind: 'hf-cache', repoDir: p.path, revision: p.revision } : { kind: 'folder', path: p.path };
    const pref = p.executionProvider ?? 'auto';
    // 'auto': cuda when its libraries are installed, webgpu when a GPU device exists, then cpu; the
    // providers left out are reported with why (and how to get CUDA) in providersFailed.
    const auto = autoProviders();
    const order: ExecutionProvider[] = pref === 'auto' ? auto.order : [pref];
    const threads = p.threads ?? this.defaultThreads;
    const failed: { provider: ExecutionProvider; error: string }[] = pref === 'auto' ? [...auto.skipped] : [];
    const where = `${p.path}${p.revision ? `@${p.revision}` : ''}`;
    let model: LoadedModel | null = null;
    // Imported on first load: onnxruntime-node is only mapped into the worker when a model is needed.
    const { loadModel } = await import('../model/session.js');
    for (const ep of order) {
      try {
        model = await loadModel(ref, { executionProvider: ep, variant: p.variant, intraOpNumThreads: threads, cacheDir: p.cacheDir, weightMemory: p.weightMemory, weightFormat: p.weightFormat });
        break;
      } catch (e) {
        failed.push({ provider: ep, error: (e as Error).message });
        // A broken checkpoint fails the same way on every provider: report it once, as the typed error it is.
        if (isModelError(e)) {
          e.message = `could not load ${where}: ${e.message}`;
          throw e;
        }
      }
    }
    if (!model) {
      const detail = failed.length === 1 ? failed[0].error : failed.map((f) => `${f.provider}: ${f.error}`).join('; ');
      throw new WorkerFault('load-failed', `could not load ${where}: ${detail}`);
    }
    try {
      const tokenizer = ModelTokenizer.load(model.modelDir, p.chatTemplateKwargs ?? {});
      const eos = new Set<number>(asIds(model.config.eosTokenId));
      const genCfgPath = path.join(model.modelDir, 'generation_config.json');
      if (existsSync(genCfgPath)) {
        try {
          for (const id of asIds(JSON.parse(readFileSync(genCfgPath, 'utf8')).eos_token_id)) eos.add(id);
        } catch { /* a malformed generation_config.json only loses its extra EOS ids */ }
      }
      for (const id of tokenizer?.eosTokenIds() ?? []) eos.add(id);
      const eosTokenIds = [...eos].sort((a, b) => a - b);
      const padTokenId = model.config.padTokenId ?? eosTokenIds[0] ?? 0;
      const id = `${path.basename(model.modelDir)}#${++this.counter}`;
      const info: ModelInfo = {
        modelId: id,
        path: p.path,
        revision: p.revision,
        config: model.config,
        executionProvider: model.executionProvider,
        variant: model.variant,
        threads: model.info.threads,
        weightMemory: model.info.weightMemory,
        weightFormat: model.info.weightFormat,
        residentWeightBytes: model.info.residentWeightBytes,
        kvBytesPerToken: model.info.kvBytesPerToken,
        loadMs: model.info.loadMs,
        compileMs: model.info.compileMs,
        cacheHit: model.info.cacheHit,
        loadStages: model.info.loadStages,
        weightBytes: model.info.weightBytes,
        rssBytes: process.memoryUsage().rss,
        hasChatTemplate: tokenizer?.hasChatTemplate ?? false,
        compiler: COMPILER_VERSION,
        hasTokenizer: tokenizer !== null,
        eosTokenIds,
        ...(failed.length ? { providersFailed: failed } : {}),
      };
      this.models.set(id, { id, model, tokenizer, info, eosTokenIds, padTokenId });
      this.holds.set(id, holdCacheEntry(model.info.onnxPath));
      return info;
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }

  async unload(modelId: string): Promise<void> {
    const m = this.get(modelId);
    this.models.delete(modelId);
    try {
      await m.model.dispose();
    } finally {
      this.holds.get(modelId)?.();
      this.holds.delete(modelId);
    }
  }

  async disposeAll(): Promise<void> {
    for (const id of [...this.models.keys()]) await this.unload(id);
  }
}
