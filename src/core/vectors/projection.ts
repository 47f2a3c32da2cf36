/**
 * Scalar projection of captured activations onto a persona vector's unit direction, a·v/‖v‖ (upstream
 * cal_projection `proj` / `prompt_last_proj`), for many prompt+response items: one capture per chunk, the layer's row
 * of the chosen reduction, dotted with v̂. NaN when the reduction is empty (a response with no tokens).
 */
import { decodeF32, type CaptureItem, type Reduction } from '../../engine/protocol.js';
import type { ModelHandle, ProgressSink } from '../backend.js';
import { norm } from './file.js';

export async function projectItems(model: ModelHandle, items: CaptureItem[], reduction: Reduction, layer: number, v: Float32Array,
  opts: { chunkSize?: number; batchSize?: number; progress?: ProgressSink; signal?: AbortSignal } = {}): Promise<number[]> {
  const vn = norm(v);
  if (vn === 0) throw new Error('cannot project onto a zero vector');
  const out: number[] = [];
  const chunk = opts.chunkSize ?? 128;
  for (let c = 0; c < items.length; c += chunk) {
    opts.signal?.throwIfAborted();
    const res = await model.backend.capture({ modelId: model.info.modelId, items: items.slice(c, c + chunk), reductions: [reduction], batchSize: opts.batchSize }, { signal: opts.signal });
    for (const it of res.items) {
      const all = decodeF32(it.values[reduction]!);
      let d = 0;
      for (let x = 0; x < v.length; x++) d += all[layer * v.length + x] * v[x];
      out.push(d / vn);
    }
    opts.progress?.({ stage: 'project', done: Math.min(c + chunk, items.length), total: items.length });
  }
  return out;
}
