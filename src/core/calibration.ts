/**
 * Activation norms (digest §10.3): the mean and std of the hidden-state L2 norm at every layer on calibration
 * prompts, in upstream's `<revision>_shared_norms.csv` format (columns layer, mean_l2, std_l2, count). They put
 * vector norms on the scale of the residual stream (geometry's ‖v‖/mean_l2) and give transfer its target norm
 * (upstream VECTOR_NORM: coef·mean_l2(target, ℓ)·v̂).
 *
 * Pooling: upstream did not ship the script. Here a prompt's value at layer ℓ is the mean over its tokens of
 * ‖hidden_states[ℓ]_t‖₂ (BOS and template tokens included, as the model sees them); mean_l2 and std_l2 are the mean
 * and the sample standard deviation (n − 1, torch.std's default) over prompts; count is the number of prompts.
 * Calibration prompts: the trait's evaluation questions rendered as evaluation prompts (upstream used the 20
 * evil_character_neutral_q eval questions for every trait: "shared" norms).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeF32, type PromptInput } from '../engine/protocol.js';
import type { ModelHandle } from './backend.js';
import { toCsv } from './storage/csv.js';
import { modelFolderName, type Workspace } from './storage/workspace.js';

export interface LayerNormStat { layer: number; meanL2: number; stdL2: number; count: number }

export async function measureActivationNorms(model: ModelHandle, prompts: PromptInput[], opts: { batchSize?: number; signal?: AbortSignal } = {}): Promise<LayerNormStat[]> {
  if (prompts.length === 0) throw new Error('activation norms need at least one calibration prompt');
  const L = model.info.config.numLayers, H = model.info.config.hiddenSize;
  const layers = Array.from({ length: L + 1 }, (_, l) => l);
  const perPrompt: number[][] = layers.map(() => []);
  const chunk = 16;
  for (let c = 0; c < prompts.length; c += chunk) {
    opts.signal?.throwIfAborted();
    const res = await model.backend.capture({ modelId: model.info.modelId, items: prompts.slice(c, c + chunk).map((prompt) => ({ prompt, response: '' })),
      reductions: ['prompt_last'], returnHiddenStates: layers, batchSize: opts.batchSize }, { signal: opts.signal });
    for (const it of res.items) {
      for (const l of layers) {
        const hs = decodeF32(it.hiddenStates![String(l)]);
        const S = hs.length / H;
        let sum = 0;
        for (let t = 0; t < S; t++) {
          let s = 0;
          for (let x = 0; x < H; x++) { const v = hs[t * H + x]; s += v * v; }
          sum += Math.sqrt(s);
        }
        perPrompt[l].push(sum / S);
      }
    }
  }
  return layers.map((l) => {
    const xs = perPrompt[l], n = xs.length;
    const m = xs.reduce((a, b) => a + b, 0) / n;
    const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1)) : 0;
    return { layer: l, meanL2: m, stdL2: sd, count: n };
  });
}

/** <workspace>/norms/<model>: where norms files live, named like upstream's results/<MODEL>/activation_norms. */
export const normsDir = (ws: Workspace, model: string) => path.join(ws.root, 'norms', modelFolderName(model));
export const normsFile = (ws: Workspace, model: string, revision: string) => path.join(normsDir(ws, model), `${revision}_shared_norms.csv`);

export function writeNormsCsv(file: string, norms: LayerNormStat[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, toCsv(['layer', 'mean_l2', 'std_l2', 'count'], norms.map((n) => ({ layer: n.layer, mean_l2: n.meanL2, std_l2: n.stdL2, count: n.count }))));
}
