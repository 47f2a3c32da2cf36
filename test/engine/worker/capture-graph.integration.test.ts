/**
 * Capture reduced inside the graph (`capture_weights` → `captured`) against the JS reduction over the full
 * hidden states (reduce.ts, float64 sums), on the toy model and a parity fixture: same values to float32
 * accumulation (≤ 1e-6 relative to the layer's scale), `prompt_last` bit-identical, run-to-run bit-identical,
 * and NaN for an empty response. Also: the capture auto-batch budgets activations, not only outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadModel } from '../../../src/engine/model/session.js';
import { autoBatchSize, captureBatch, rowBytes } from '../../../src/engine/capture/capture.js';
import { reduceRow } from '../../../src/engine/capture/reduce.js';
import { leftPad } from '../../../src/engine/generation/batch.js';
import type { Reduction } from '../../../src/engine/protocol.js';
import { SKIP_PARITY, parityDir, repoRoot } from './helpers.js';

const REDS: Reduction[] = ['prompt_avg', 'response_avg', 'prompt_last'];

for (const [name, dir] of [['toy', path.join(repoRoot, 'models', 'toy-persona', 'revisions', 'main')], ['llama_gqa', path.join(parityDir, 'llama_gqa')]] as const) {
  test(`${name}: in-graph capture reductions equal the JS reduction of the full hidden states`, { skip: name === 'toy' ? false : SKIP_PARITY }, async (t) => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'pl-capg-'));
    t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
    const model = await loadModel({ kind: 'folder', path: dir }, { cacheDir, intraOpNumThreads: 1 });
    t.after(() => model.dispose());
    const { hiddenSize: H, numLayers: L, vocabSize: V } = model.config;
    const items = [7, 40, 13, 3, 29].map((len, r) => ({ ids: Array.from({ length: len }, (_, j) => 3 + ((r * 131 + j * 17) % (V - 3))), promptTokens: Math.max(1, Math.floor(len / 2)) }));
    items.push({ ids: [5, 6, 7], promptTokens: 3 }); // empty response
    const got = await captureBatch(model, items, REDS, 0);
    const again = await captureBatch(model, items, REDS, 0);
    // Reference: the full hidden states of the same padded forward, reduced in JS.
    const padded = leftPad(items.map((x) => x.ids), 0);
    const out = await model.forward({ batch: padded.batch, seqLen: padded.seqLen, inputIds: padded.inputIds, positionIds: padded.positionIds, attentionMask: padded.attentionMask, logits: 'none', hiddenStates: true, past: null });
    out.present.dispose();
    let worst = 0, changed = 0, total = 0;
    items.forEach((it, b) => {
      const ref = reduceRow(out.hiddenStates!, b, padded.seqLen, H, { pad: padded.pads[b], promptTokens: it.promptTokens, totalTokens: it.ids.length }, REDS);
      for (const red of REDS) {
        const a = got[b].values[red]!, e = ref[red]!;
        assert.deepEqual(a, again[b].values[red], `${red} row ${b}: not bit-identical run to run`);
        if (red === 'prompt_last') assert.deepEqual(a, e, `prompt_last row ${b} must be the hidden state itself`);
        for (let l = 0; l <= L; l++) {
          let scale = 0;
          for (let i = 0; i < H; i++) scale = Math.max(scale, Math.abs(e[l * H + i]));
          for (let i = 0; i < H; i++) {
            const x = a[l * H + i], y = e[l * H + i];
            if (Number.isNaN(y)) { assert.ok(Number.isNaN(x), `${red} row ${b}: expected NaN`); continue; }
            total++;
            if (x !== y) changed++;
            worst = Math.max(worst, Math.abs(x - y) / scale);
          }
        }
      }
    });
    assert.ok(Number.isNaN(got[5].values.response_avg![0]), 'an empty response averages to NaN');
    t.diagnostic(`max |in-graph − JS| / layer scale = ${worst.toExponential(2)}; ${changed} of ${total} floats differ in their last bits`);
    assert.ok(worst <= 1e-6, `in-graph reduction differs from the JS reduction by ${worst} (relative)`);
  });
}

test('capture auto-batch budgets activations: the attention scores (S²) and MLP, not just the outputs', () => {
  const cfg = { architecture: 'LlamaForCausalLM', modelType: 'llama', numLayers: 4, hiddenSize: 128, numHeads: 4, numKvHeads: 2, headDim: 32, intermediateSize: 352, vocabSize: 1070, maxPositions: 256 };
  const model = { config: cfg } as Parameters<typeof autoBatchSize>[0];
  const budget = 256 * 2 ** 20;
  const short = autoBatchSize(model, 64, budget), long = autoBatchSize(model, 256, budget);
  // Outputs alone (the old rule: S·H·(L+1)·4 bytes per row) would allow 2048 rows of 64 tokens.
  assert.ok(short < 2048 / 2, `${short} rows of 64 tokens`);
  assert.ok(long * 4 < short, 'quadrupling the length more than quarters the rows (attention grows with S²)');
  assert.ok(rowBytes(cfg, 256, { reductions: 3 }) * long <= budget && rowBytes(cfg, 256, { reductions: 3 }) * (long + 1) > budget);
  assert.ok(rowBytes(cfg, 64, { fullHidden: true }) > rowBytes(cfg, 64, { reductions: 3 }), 'fetching every hidden state costs more');
});
